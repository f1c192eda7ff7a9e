/**
 * Operations commands: inspect job, history recent/purge, retry job, cancel job, stats. Contributed
 * through the `cli` hook like any plugin's commands; data on stdout, failures thrown as NuvomError
 * for cli/main.ts (one `error:` line; exit 1, or 2 for NUVOM_E_USAGE).
 */
import { definePlugin } from '../../sdk/plugin.ts';
import { addControlCommands } from './control.ts';
import { addHistoryCommands } from './history.ts';
import { addInspectCommands } from './inspect.ts';
import { addStatsCommand } from './stats.ts';

export default definePlugin({
  name: 'nuvom-cli-ops',
  apiVersion: 1,
  description: 'operations commands: inspect job, history recent/purge, retry job, cancel job, stats',
  provides: ['cli'],
  needs: ['jobs', 'resultStore', 'clock'],
  register(ctx) {
    ctx.hooks.cli.tap('nuvom-cli-ops', ({ program }) => {
      addInspectCommands(program, ctx);
      addHistoryCommands(program, ctx);
      addControlCommands(program, ctx);
      addStatsCommand(program, ctx);
    });
  },
});
