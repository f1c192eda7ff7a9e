/**
 * The discovery plugin's definition: provides `discovery` "oxc" and declares `discover tasks` and
 * `list tasks`. Cheap to import: the parser (discover.ts, scan.ts, oxc-parser) loads on the first
 * `discover()`, so an application or a worker that only checks the manifest never loads it.
 * Must never: import discover.ts or scan.ts at the top.
 */
import { definePlugin } from '../../sdk/plugin.ts';
import { addDiscoveryCommands, discoverLazily, type DiscoveryCalls } from './cli.ts';
import { DISCOVERY_ERRORS } from './errors.ts';
import { loadManifest } from './manifest.ts';
import { isManifestStale, staleReason } from './stale.ts';
import type { DiscoveryService } from './types.ts';

export default definePlugin({
  name: 'nuvom-discovery',
  apiVersion: 1,
  description: 'static task discovery with oxc-parser, the task manifest, `discover tasks` and `list tasks`',
  provides: ['discovery:oxc', 'cli'],
  errors: DISCOVERY_ERRORS,
  register(ctx) {
    ctx.provide('discovery', 'oxc', (): DiscoveryService => ({ discover: discoverLazily, loadManifest, isManifestStale, staleReason }) as DiscoveryService);
    // The commands reach discovery through the container: a third-party discovery chosen by config
    // (NUVOM_SERVICES=discovery=<name>) serves `discover tasks` and `list tasks`.
    ctx.hooks.cli.tap('nuvom-discovery', ({ program }) => addDiscoveryCommands(program, ctx.config, process, () => ctx.resolve('discovery') as unknown as DiscoveryCalls));
  },
});
