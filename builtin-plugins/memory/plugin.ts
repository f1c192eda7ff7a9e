/**
 * The "memory" backends' definition: queue, result store, job store and schedule store held in this
 * process (tests, single-process use). Cheap to import: the stores load at boot only when config
 * chooses "memory" for one of them (ProvideOptions.load).
 * Must never: import anything but the public plugin surface and this folder; import the stores at the top.
 */
import { definePlugin, type StorageHealth } from '../../sdk/plugin.ts';

type Stores = typeof import('./stores.ts');

// Not `export default definePlugin(...)`: tsc leaves a dynamic import of a .ts path inside an exported default
// expression unrewritten (rewriteRelativeImportExtensions), and dist would import a .ts file.
const memoryPlugin = definePlugin({
  name: 'nuvom-memory',
  apiVersion: 1,
  description: 'In-process queue, result store and schedule store (tests, single-process use)',
  provides: ['queue:memory', 'resultStore:memory', 'scheduleStore:memory', 'jobStore:memory'],
  register(ctx) {
    let m: Stores | undefined;
    const load = async () => { m ??= await import('./stores.ts'); };
    // Nothing on a volume: doctor's job checks cannot see another process's memory.
    const health: StorageHealth = {
      inProcess: true,
      health: () => ({ findings: [], jobChecks: { skip: 'the memory backends keep jobs inside each process; nothing to check from here', level: 'ok' } }),
    };
    ctx.provide('queue', 'memory', () => new m!.MemoryQueue(), (q) => q.close(), { health, load });
    ctx.provide('resultStore', 'memory', () => new m!.MemoryResultStore(), (s) => s.close(), { health, load });
    // Chosen when queueBackend and resultBackend are both "memory" (JobStore).
    ctx.provide('jobStore', 'memory', (s) => new m!.MemoryJobStore(s.queue as InstanceType<Stores['MemoryQueue']>, s.resultStore as InstanceType<Stores['MemoryResultStore']>, s.serializer), undefined, { load });
    ctx.provide('scheduleStore', 'memory', () => new m!.MemoryScheduleStore(), (s) => s.close(), { health: { inProcess: true, health: () => ({ findings: [] }) }, load });
  },
});

export default memoryPlugin;
