/** The built-in memory backends pass the whole conformance kit. */
import { queueConformance, resultStoreConformance, scheduleStoreConformance, storagePairConformance } from '../../sdk/testing/index.ts';
import { MemoryQueue, MemoryResultStore, MemoryScheduleStore } from '../../builtin-plugins/memory/index.ts';

describe('conformance: memory backends', () => {
  queueConformance('queue "memory"', async () => ({ queue: new MemoryQueue() }));
  resultStoreConformance('resultStore "memory"', async () => ({ store: new MemoryResultStore() }));
  scheduleStoreConformance('scheduleStore "memory"', async () => ({ store: new MemoryScheduleStore() }));
  storagePairConformance('queue "memory" + resultStore "memory"', async () => ({ queue: new MemoryQueue(), store: new MemoryResultStore() }));
});
