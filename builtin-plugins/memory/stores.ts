/** The memory backends' stores, in one module for plugin.ts to load when config chooses them. */
export { MemoryQueue } from './queue.ts';
export { MemoryResultStore } from './results.ts';
export { MemoryScheduleStore } from './schedules.ts';
export { MemoryJobStore } from './job-store.ts';
