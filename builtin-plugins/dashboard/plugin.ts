/**
 * The nuvom-dashboard plugin object (in the default preset): it only adds the `nuvom dashboard`
 * command; the server code is imported when the command runs.
 * Must never: bind a port outside `nuvom dashboard`, or load the server code at boot.
 */
import type { Command } from 'commander';
import { NuvomError, configVariables, definePlugin, type PluginContext } from '../../sdk/plugin.ts';
import { PLUGIN_NAME, readSettings, type DashboardSettings } from './settings.ts';


function addCommand(program: Command, ctx: PluginContext, settings: () => DashboardSettings): void {
  program.command('dashboard')
    .description('serve the web dashboard (overview, jobs, failures, schedules) until Ctrl-C')
    .option('--host <host>', 'address to listen on (a non-loopback one needs a token or user/password)')
    .option('--port <port>', 'port (0 takes any free port)', (v: string): string => {
      // A usage error (exit 2) naming the option, before the settings check names the config key.
      const n = Number(v);
      if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new NuvomError('NUVOM_E_USAGE', `--port must be a whole number from 0 to 65535 (0 takes any free port), got "${v}"`);
      return v;
    })
    .option('--read-only', 'disable retry and cancel')
    .action(async (o: { host?: string; port?: string; readOnly?: boolean }) => {
      const { serveDashboard } = await import('./serve.ts');
      const base = settings();
      const s = readSettings({ host: o.host ?? base.host, port: o.port === undefined ? base.port : Number(o.port), readonly: o.readOnly ?? base.readOnly }, {});
      const { sourceOf } = await import('./source.ts');
      const server = await serveDashboard(sourceOf(ctx), { ...s, auth: base.auth });
      process.stdout.write(`nuvom dashboard at ${server.url}\n`);
      await new Promise<void>((resolve) => {
        const end = () => { void server.close().then(resolve); };
        process.once('SIGINT', end);
        process.once('SIGTERM', end);
      });
    });
}

export function createDashboardPlugin() {
  let settings: DashboardSettings | null = null;
  return definePlugin({
    name: PLUGIN_NAME,
    apiVersion: 1,
    description: 'the web dashboard: `nuvom dashboard`, and dashboardHandler() from nuvom/plugins/dashboard',
    provides: ['cli', 'dashboard'],
    // The schedules and workers pages only: the dashboard runs without either.
    needs: ['jobs', 'resultStore', 'kernelInfo', 'scheduler?', 'workers?'],
    register(ctx) {
      ctx.hooks.cli.tap(PLUGIN_NAME, ({ program }) => addCommand(program, ctx, () => settings ?? readSettings({}, configVariables(ctx.config))));
    },
    async start(raw, ctx) {
      settings = readSettings(raw, configVariables(ctx.config));
    },
  });
}

export default createDashboardPlugin();
