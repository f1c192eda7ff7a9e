/**
 * A worker thread's entry: hosts one Runner (runner.ts), which runs the jobs the pool sends and
 * reports their outcomes. The hook bus and storage stay on the main thread. When this file is plain
 * JS (the built package), the TypeScript loader is registered only before the first `.ts` task module
 * is imported (`workerData.tsxApiUrl`): a thread that runs JS tasks never loads it.
 * Must never: touch the queue or the result store; exit on a task's error.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { ToThread } from './protocol.ts';
import { Runner } from './runner.ts';

const port = parentPort!;
const tsxApiUrl = (workerData as { tsxApiUrl?: string } | null)?.tsxApiUrl;
const runner = new Runner({
  post: (msg) => port.postMessage(msg),
  beforeTsImport: tsxApiUrl ? async () => {
    const { register } = await import(tsxApiUrl) as { register(): void };
    register();
  } : undefined,
});
port.on('message', (msg: ToThread) => runner.receive(msg));
port.postMessage({ t: 'ready', threadId });
