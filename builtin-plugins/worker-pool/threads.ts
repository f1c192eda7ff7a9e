/**
 * One worker thread and the jobs it runs. The thread's entry is evaluated code that registers the
 * TypeScript loader (Node 20 does not pass `--import tsx` on to threads) and then imports the runner.
 */
import { Worker } from 'node:worker_threads';
import type { FromThread, ToThread } from './protocol.ts';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const RUNNER_URL = new URL(`./thread-runner${ext}`, import.meta.url).href;
const TSX_API_URL = import.meta.resolve('tsx/esm/api');

const ENTRY = `
(async () => {
  const { register } = await import(${JSON.stringify(TSX_API_URL)});
  register();
  await import(${JSON.stringify(RUNNER_URL)});
})().catch((err) => {
  require('node:worker_threads').parentPort.postMessage({ t: 'log', level: 'error', message: 'worker thread failed to start: ' + (err && err.stack || err) });
  process.exit(70);
});
`;

export interface ThreadOptions {
  /** Per-thread heap limit in MB (worker resourceLimits); undefined = Node's default. */
  memoryLimitMb?: number;
  onMessage(msg: FromThread): void;
  onExit(code: number): void;
}

let nextIndex = 0;

export class Thread {
  readonly index = nextIndex++;
  readonly worker: Worker;
  /** Job ids running here (as far as the pool knows: at most `concurrency`). */
  readonly jobs = new Set<string>();
  /** Job ids sent ahead, waiting in the thread's backlog, in the order sent (see protocol.ts). */
  readonly queued: string[] = [];
  /** A recall of the backlog is on its way. */
  recalling = false;
  exited = false;
  /** Takes no new jobs and ends once its jobs finish (dev reload). */
  retiring = false;
  /** Being terminated (a runaway job): takes no new jobs; a fresh thread replaces it when it exits. */
  doomed = false;
  /** Runs a suspect job (one that shared a thread that died): takes no other job until it ends. */
  solo = false;
  /** Has loaded its runner (posted 'ready'); until then, jobs sent to it wait and their timeouts do not run. */
  ready = false;
  /** The error that ended the thread (out of memory, an uncaught throw), if any. */
  lastError: Error | null = null;

  constructor(opts: ThreadOptions) {
    this.worker = new Worker(ENTRY, {
      eval: true,
      resourceLimits: opts.memoryLimitMb ? { maxOldGenerationSizeMb: opts.memoryLimitMb, maxYoungGenerationSizeMb: Math.max(8, Math.round(opts.memoryLimitMb / 8)) } : undefined,
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', (m: FromThread) => opts.onMessage(m));
    this.worker.on('error', (err) => { this.lastError = err; });
    this.worker.on('exit', (code) => { this.exited = true; opts.onExit(code); });
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  /** Can take new jobs. */
  get open(): boolean {
    return !this.exited && !this.retiring && !this.doomed;
  }

  send(msg: ToThread): void {
    if (!this.exited) this.worker.postMessage(msg);
  }

  async terminate(): Promise<void> {
    if (this.exited) return;
    await this.worker.terminate();
  }
}
