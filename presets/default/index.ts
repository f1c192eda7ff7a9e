/**
 * `nuvom/presets/default`: the default distribution, what `createClient()` and the `nuvom` command
 * boot unless told otherwise. The core preset's plugins (presets/core) plus the worker pool, the CLI
 * commands, discovery, the doctor, the dashboard command and the workers view, and the catalogue of
 * optional first-party plugins that .nuvom_plugins.toml can name as "nuvom/plugins/<x>".
 * Every entry is lazy: a plugin left out (`disable`, or replaced by one of the same name) is never
 * imported. Order matters only for suggested defaults and `nuvom config`'s rows (dependencies order
 * the boot).
 * Must never: import a plugin module at the top.
 */
import { definePreset, presetEntries, type PresetEntry } from '../../sdk/plugin.ts';
import core from '../core/index.ts';

const fromCore = (name: string): PresetEntry => presetEntries(core).find((e) => e.name === name)!;

const defaultPreset = definePreset({
  name: 'nuvom-default',
  plugins: [
    fromCore('nuvom-serializers'),
    fromCore('nuvom-registry'),
    fromCore('nuvom-jobs'),
    fromCore('nuvom-memory'),
    fromCore('nuvom-sqlite'),
    fromCore('nuvom-file'),
    { name: 'nuvom-postgres', load: async () => (await import('../../builtin-plugins/postgres/plugin.ts')).default },
    { name: 'nuvom-worker-pool', load: async () => (await import('../../builtin-plugins/worker-pool/index.ts')).default },
    { name: 'nuvom-cli-core', load: async () => (await import('../../builtin-plugins/cli-core/index.ts')).default },
    { name: 'nuvom-discovery', load: async () => (await import('../../builtin-plugins/discovery/plugin.ts')).default },
    fromCore('nuvom-scheduler'),
    { name: 'nuvom-cli-ops', load: async () => (await import('../../builtin-plugins/cli-ops/index.ts')).default },
    { name: 'nuvom-doctor', load: async () => (await import('../../builtin-plugins/doctor/index.ts')).default },
    { name: 'nuvom-dashboard', load: async () => (await import('../../builtin-plugins/dashboard/plugin.ts')).default },
    { name: 'nuvom-workers', load: async () => (await import('../../builtin-plugins/workers/index.ts')).default },
    { name: 'nuvom-plugin-tools', load: async () => (await import('../../builtin-plugins/plugin-tools/index.ts')).pluginTools() },
  ],
  catalogue: {
    // Factories, not shared objects: each kernel gets its own registry, server or file handle.
    'nuvom/plugins/prometheus': () => import('../../builtin-plugins/prometheus/index.ts').then((m) => m.createPrometheusPlugin()),
    'nuvom/plugins/event-log': () => import('../../builtin-plugins/event-log/index.ts').then((m) => m.createEventLogPlugin()),
  },
});

export default defaultPreset;
