/** Jobs plugin: the dispatcher (delay/map/enqueue through the `enqueue` hook) and job control. */
import { definePlugin, jobStoreOf } from '../../sdk/plugin.ts';
import { Jobs } from './jobs.ts';
import { jobSettings } from './settings.ts';

export { Jobs };

export default definePlugin({
  name: 'nuvom-jobs',
  apiVersion: 1,
  description: 'dispatcher and job control (getJob, listJobs, retry, cancel, results)',
  provides: ['jobs'],
  dependsOn: ['nuvom-registry'],
  settings: jobSettings,
  register(ctx) {
    ctx.provide('jobs', 'default', (s) => new Jobs({
      config: s.config, queue: s.queue, resultStore: s.resultStore, store: jobStoreOf(s), serializer: s.serializer, bus: s.bus, clock: s.clock, registry: s.registry,
    }));
  },
});
