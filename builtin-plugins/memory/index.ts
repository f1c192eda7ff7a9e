/**
 * The built-in "memory" backends (`nuvom/plugins/memory`): queue, result store and schedule store held
 * in this process. For tests and in-process use; nothing survives a restart and no other process sees
 * the jobs. The definition is plugin.ts (what the presets load); this module adds the stores.
 * Must never: import anything but the public plugin surface and this folder.
 */
export { MemoryQueue, MemoryResultStore, MemoryScheduleStore, MemoryJobStore } from './stores.ts';
export { default } from './plugin.ts';
