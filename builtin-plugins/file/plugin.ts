/**
 * The file plugin's definition: queue "file" and resultStore "file", chosen with queueBackend = "file" /
 * resultBackend = "file"; directories from fileQueueDir / fileResultDir. Cheap to import: the stores
 * (queue.ts, results.ts and what they use) load at boot only when config chooses them
 * (ProvideOptions.load), so an application on another backend never imports them.
 * Must never: import queue.ts or results.ts at the top.
 */
import { definePlugin, resolvePath } from '../../sdk/plugin.ts';
import { fileHealth } from './health.ts';
import { fileSettings } from './settings.ts';

type Stores = typeof import('./stores.ts');

// Not `export default definePlugin(...)`: tsc leaves a dynamic import of a .ts path inside an exported default
// expression unrewritten (rewriteRelativeImportExtensions), and dist would import a .ts file.
const filePlugin = definePlugin({
  name: 'nuvom-file',
  apiVersion: 1,
  description: 'file-based queue and result store (one directory each, shared by processes on one host)',
  provides: ['queue:file', 'resultStore:file'],
  settings: fileSettings,
  register(ctx) {
    const { fileQueueDir, fileResultDir } = ctx.settings;
    let stores: Stores | undefined;
    const load = async () => { stores ??= await import('./stores.ts'); };
    // One checker for both services: doctor asks it once about the ones config chose "file" for.
    const health = fileHealth({ queue: resolvePath(ctx.config, fileQueueDir), results: resolvePath(ctx.config, fileResultDir) });
    ctx.provide('queue', 'file', (s) => new stores!.FileQueue(resolvePath(s.config, fileQueueDir), s.logger.child({ plugin: 'nuvom-file' })), (q) => q.close(), { health, load });
    ctx.provide(
      'resultStore',
      'file',
      (s) => new stores!.FileResultStore(resolvePath(s.config, fileResultDir), s.serializer, s.logger.child({ plugin: 'nuvom-file' })),
      (r) => r.close(),
      { health, load },
    );
  },
});

export default filePlugin;
