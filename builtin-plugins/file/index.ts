/**
 * The file plugin: queue "file" (one file per job, atomic renames, multi-process on one host) and
 * resultStore "file" (append-only JSON lines plus an in-memory index). Chosen with
 * queueBackend = "file" / resultBackend = "file"; directories from fileQueueDir / fileResultDir.
 * Nothing is opened unless config chooses these implementations.
 */
import { definePlugin, resolvePath } from '../../sdk/plugin.ts';
import { FileQueue } from './queue.ts';
import { FileResultStore } from './results.ts';
import { fileSettings } from './settings.ts';
import { fileHealth } from './health.ts';

export { FileQueue, FileResultStore };

export default definePlugin({
  name: 'nuvom-file',
  apiVersion: 1,
  description: 'file-based queue and result store (one directory each, shared by processes on one host)',
  provides: ['queue:file', 'resultStore:file'],
  settings: fileSettings,
  register(ctx) {
    const { fileQueueDir, fileResultDir } = ctx.settings;
    // One checker for both services: doctor asks it once about the ones config chose "file" for.
    const health = fileHealth({ queue: resolvePath(ctx.config, fileQueueDir), results: resolvePath(ctx.config, fileResultDir) });
    ctx.provide('queue', 'file', (s) => new FileQueue(resolvePath(s.config, fileQueueDir), s.logger.child({ plugin: 'nuvom-file' })), (q) => q.close(), { health });
    ctx.provide(
      'resultStore',
      'file',
      (s) => new FileResultStore(resolvePath(s.config, fileResultDir), s.serializer, s.logger.child({ plugin: 'nuvom-file' })),
      (r) => r.close(),
      { health },
    );
  },
});
