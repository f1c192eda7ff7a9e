/**
 * Discovery plugin: provides `discovery` "oxc" (static task discovery and the task manifest) and the
 * `discover tasks` / `list tasks` commands. A third party can replace it by providing `discovery`.
 */
import { definePlugin } from '../../sdk/plugin.ts';
import { addDiscoveryCommands, type DiscoveryCalls } from './cli.ts';
import { defaultTaskTypesPath, renderTaskTypes, writeTaskTypes } from './declarations.ts';
import { discoverTasks, isManifestStale, loadManifest, staleReason } from './discover.ts';
import { DISCOVERY_ERRORS } from './errors.ts';
import { diffTasks } from './manifest.ts';
import { scanFile } from './scan.ts';
import type { DiscoveryService } from './types.ts';
import { createFileFilter, walkSources } from './walk.ts';

export {
  createFileFilter, defaultTaskTypesPath, diffTasks, discoverTasks, isManifestStale, loadManifest, renderTaskTypes, scanFile, staleReason,
  walkSources, writeTaskTypes,
};
export type * from './types.ts';

export default definePlugin({
  name: 'nuvom-discovery',
  apiVersion: 1,
  description: 'static task discovery with oxc-parser, the task manifest, `discover tasks` and `list tasks`',
  provides: ['discovery:oxc', 'cli'],
  errors: DISCOVERY_ERRORS,
  register(ctx) {
    ctx.provide('discovery', 'oxc', (): DiscoveryService => ({ discover: discoverTasks, loadManifest, isManifestStale, staleReason }) as DiscoveryService);
    // The commands reach discovery through the container: a third-party discovery chosen by config
    // (NUVOM_SERVICES=discovery=<name>) serves `discover tasks` and `list tasks`.
    ctx.hooks.cli.tap('nuvom-discovery', ({ program }) => addDiscoveryCommands(program, ctx.config, process, () => ctx.resolve('discovery') as unknown as DiscoveryCalls));
  },
});
