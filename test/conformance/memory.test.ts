/** The built-in memory backends pass the whole conformance kit. */
import { queueConformance, resultStoreConformance, scheduleStoreConformance, jobStoreConformance } from '../../sdk/testing/index.ts';
import type { Serializer } from '../../sdk/plugin.ts';
import { MemoryJobStore, MemoryQueue, MemoryResultStore, MemoryScheduleStore } from '../../builtin-plugins/memory/index.ts';

/** A tiny JSON serializer, enough for the kit's JSON-safe values. */
const json: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

describe('conformance: memory backends', () => {
  queueConformance('queue "memory"', async () => ({ queue: new MemoryQueue() }));
  resultStoreConformance('resultStore "memory"', async () => ({ store: new MemoryResultStore() }));
  scheduleStoreConformance('scheduleStore "memory"', async () => ({ store: new MemoryScheduleStore() }));
  jobStoreConformance('jobStore "memory"', async () => ({ store: new MemoryJobStore(new MemoryQueue(), new MemoryResultStore(), json) }));
});
