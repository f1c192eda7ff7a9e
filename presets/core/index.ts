/**
 * `nuvom/presets/core`: what an application needs to enqueue, schedule and read results: the
 * serializers, the task registry, the dispatcher and job control, the memory, SQLite and file
 * storage, and the scheduler service. No worker pool, no discovery, no doctor, no CLI commands.
 * Every entry is lazy: a plugin the application leaves out (`disable`) is never imported.
 * Must never: import a plugin module at the top (a preset is a list, not its plugins' code).
 */
import { definePreset } from '../../sdk/plugin.ts';

const core = definePreset({
  name: 'nuvom-core',
  plugins: [
    { name: 'nuvom-serializers', load: async () => (await import('../../builtin-plugins/serializers/index.ts')).default },
    { name: 'nuvom-registry', load: async () => (await import('../../builtin-plugins/registry/index.ts')).default },
    { name: 'nuvom-jobs', load: async () => (await import('../../builtin-plugins/jobs/index.ts')).default },
    { name: 'nuvom-memory', load: async () => (await import('../../builtin-plugins/memory/plugin.ts')).default },
    { name: 'nuvom-sqlite', load: async () => (await import('../../builtin-plugins/sqlite/plugin.ts')).default },
    { name: 'nuvom-file', load: async () => (await import('../../builtin-plugins/file/plugin.ts')).default },
    { name: 'nuvom-scheduler', load: async () => (await import('../../builtin-plugins/scheduler/index.ts')).default },
  ],
});

export default core;
