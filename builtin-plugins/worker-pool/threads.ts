/**
 * Where jobs run: a worker thread (`Thread`), or, in the in-process mode (`threads: 0`), the worker's
 * own main thread (`InlineThread`). Both speak the messages of protocol.ts, so the pool drives them
 * alike; only an inline host cannot be terminated (a runaway job there is abandoned, see `abandon`).
 * A thread's entry is evaluated code. From the TypeScript sources (a checkout run through tsx), it
 * registers the TypeScript loader first (Node 20 does not pass `--import tsx` on to threads), since
 * the runner itself is TypeScript; from the built package, it imports the JS runner directly and the
 * runner registers the loader only before it imports a `.ts` task module.
 * Must never: let a message reach an ended thread, or call back into the pool synchronously from `send`.
 */
import { Worker } from 'node:worker_threads';
import type { FromThread, ToThread } from './protocol.ts';
import { Runner } from './runner.ts';
import { ownModuleUrl } from '../../sdk/plugin.ts';

const RUNNER_URL = ownModuleUrl('builtin-plugins/worker-pool/thread-runner.ts');
const ext = RUNNER_URL.endsWith('.ts') ? '.ts' : '.js';
let tsxApiUrl: string | null | undefined;
/** Where tsx's register API is, or null where tsx is not installed (JS tasks only, then). */
function tsxApi(): string | null {
  if (tsxApiUrl === undefined) {
    try { tsxApiUrl = import.meta.resolve('tsx/esm/api'); } catch { tsxApiUrl = null; }
  }
  return tsxApiUrl;
}

const FAILED = `.catch((err) => {
  require('node:worker_threads').parentPort.postMessage({ t: 'log', level: 'error', message: 'worker thread failed to start: ' + (err && err.stack || err) });
  process.exit(70);
});`;

let entry: string | null = null;
function threadEntry(): string {
  if (entry) return entry;
  const api = tsxApi();
  entry = ext === '.ts'
    ? `(async () => {
  const { register } = await import(${JSON.stringify(api)});
  register();
  await import(${JSON.stringify(RUNNER_URL)});
})()${FAILED}`
    : `import(${JSON.stringify(RUNNER_URL)})${FAILED}`;
  return entry;
}

export interface ThreadOptions {
  /** Per-thread heap limit in MB (worker resourceLimits); undefined = Node's default. */
  memoryLimitMb?: number;
  onMessage(msg: FromThread): void;
  onExit(code: number): void;
}

let nextIndex = 0;

/** What the pool keeps per host: the jobs it runs and sent ahead, and what it may still take. */
abstract class Host {
  readonly index = nextIndex++;
  /** Job ids running here (as far as the pool knows: at most `concurrency`). */
  readonly jobs = new Set<string>();
  /** Job ids sent ahead, waiting in the host's backlog, in the order sent (see protocol.ts). */
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
  /** Runs on the pool's own thread: cannot be terminated, so a job that ignores its abort is abandoned. */
  abstract readonly inline: boolean;
  abstract readonly threadId: number;

  /** Can take new jobs. */
  get open(): boolean {
    return !this.exited && !this.retiring && !this.doomed;
  }

  abstract send(msg: ToThread): void;
  abstract terminate(): Promise<void>;
}

export class Thread extends Host {
  readonly inline = false;
  readonly worker: Worker;

  constructor(opts: ThreadOptions) {
    super();
    const api = tsxApi();
    this.worker = new Worker(threadEntry(), {
      eval: true,
      workerData: ext === '.js' && api ? { tsxApiUrl: api } : undefined,
      resourceLimits: opts.memoryLimitMb ? { maxOldGenerationSizeMb: opts.memoryLimitMb, maxYoungGenerationSizeMb: Math.max(8, Math.round(opts.memoryLimitMb / 8)) } : undefined,
      stdout: false,
      stderr: false,
    });
    this.id = this.worker.threadId;
    this.worker.on('message', opts.onMessage);
    this.worker.on('error', (err) => { this.lastError = err; });
    this.worker.on('exit', (code) => { this.exited = true; opts.onExit(code); });
  }

  /** Read at start: Node's Worker says -1 once the thread has ended, and its jobs' records still name it. */
  private readonly id: number;

  get threadId(): number {
    return this.id;
  }

  send(msg: ToThread): void {
    if (!this.exited) this.worker.postMessage(msg);
  }

  async terminate(): Promise<void> {
    if (this.exited) return;
    await this.worker.terminate();
  }
}

/**
 * The in-process host: a Runner on the pool's thread. Messages go both ways as microtasks, so that,
 * as with a thread, nothing the pool sends comes back before the pool's current call returns. Task
 * modules are imported into the worker's own process (whatever loader it runs under).
 */
export class InlineThread extends Host {
  readonly inline = true;
  readonly threadId = 0;
  private readonly runner: Runner;

  constructor(private readonly opts: ThreadOptions) {
    super();
    this.runner = new Runner({ post: (msg) => queueMicrotask(() => { if (!this.exited) opts.onMessage(msg); }) });
    queueMicrotask(() => opts.onMessage({ t: 'ready', threadId: 0 }));
  }

  send(msg: ToThread): void {
    if (!this.exited) queueMicrotask(() => this.runner.receive(msg));
  }

  /** Stops taking messages; jobs still running here (abandoned ones) run on, their outcomes ignored. */
  async terminate(): Promise<void> {
    if (this.exited) return;
    this.exited = true;
    await new Promise<void>((r) => setImmediate(r));
    this.opts.onExit(0);
  }
}

export type SlotHost = Thread | InlineThread;
