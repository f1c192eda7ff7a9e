/**
 * The built-in "memory" backends: queue, result store and schedule store held in this process.
 * For tests and in-process use; nothing survives a restart and no other process sees the jobs.
 * Must never: import anything but the public plugin surface and this folder.
 */
import { definePlugin, type StorageHealth } from '../../sdk/plugin.ts';
import { MemoryQueue } from './queue.ts';
import { MemoryResultStore } from './results.ts';
import { MemoryScheduleStore } from './schedules.ts';
import { MemoryJobStore } from './job-store.ts';

export { MemoryQueue, MemoryResultStore, MemoryScheduleStore, MemoryJobStore };

export default definePlugin({
  name: 'nuvom-memory',
  apiVersion: 1,
  description: 'In-process queue, result store and schedule store (tests, single-process use)',
  provides: ['queue:memory', 'resultStore:memory', 'scheduleStore:memory', 'jobStore:memory'],
  register(ctx) {
    // Nothing on a volume: doctor's job checks cannot see another process's memory.
    const health: StorageHealth = {
      inProcess: true,
      health: () => ({ findings: [], jobChecks: { skip: 'the memory backends keep jobs inside each process; nothing to check from here', level: 'ok' } }),
    };
    ctx.provide('queue', 'memory', () => new MemoryQueue(), (q) => q.close(), { health });
    ctx.provide('resultStore', 'memory', () => new MemoryResultStore(), (s) => s.close(), { health });
    // Chosen when queueBackend and resultBackend are both "memory" (JobStore).
    ctx.provide('jobStore', 'memory', (s) => new MemoryJobStore(s.queue as MemoryQueue, s.resultStore as MemoryResultStore, s.serializer));
    ctx.provide('scheduleStore', 'memory', () => new MemoryScheduleStore(), (s) => s.close(), { health: { inProcess: true, health: () => ({ findings: [] }) } });
  },
});
