/**
 * The file plugin (`nuvom/plugins/file`): queue "file" (one file per job, atomic renames, multi-process
 * on one host) and resultStore "file" (append-only JSON lines plus an in-memory index). Chosen with
 * queueBackend = "file" / resultBackend = "file"; directories from fileQueueDir / fileResultDir.
 * Nothing is opened unless config chooses these implementations. The definition is plugin.ts (what
 * the presets load); this module adds the stores for direct use.
 */
export { FileQueue } from './queue.ts';
export { FileResultStore } from './results.ts';
export { default } from './plugin.ts';
