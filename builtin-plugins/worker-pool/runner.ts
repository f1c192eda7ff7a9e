/**
 * Runs jobs where it is created: loads task modules on demand, runs jobs (several at once for async
 * tasks), and reports outcomes through `post`. A worker thread hosts one (thread-runner.ts); the
 * in-process mode (`threads: 0`) hosts one on the worker's main thread (inline-thread.ts).
 * Must never: touch the queue or the result store; exit on a task's error.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// A type only (erased at run time): the thread loads nothing of the kernel for it.
import type { JobError } from '../../sdk/plugin.ts';
import { getTask, isTask, type AnyTask } from '../../sdk/task.ts';
import { runInJob } from '../../sdk/current-job.ts';
import { DoneBuilder, type DoneBatch, type FromThread, type RunMessage, type ToThread } from './protocol.ts';

/**
 * A running job, as `currentJob()` gives it to the task: its abort signal is made when first asked
 * for (by the task, or by an abort), since most jobs never look at it and an AbortController is among
 * the dearest things a no-op job costs here. A class, not an object literal with a getter: V8 builds
 * such a literal through the runtime, ~2 us a job.
 */
class RunningJob {
  #c: AbortController | null = null;
  constructor(readonly id: string, readonly taskName: string, readonly attempt: number) {}
  get signal(): AbortSignal {
    return (this.#c ??= new AbortController()).signal;
  }
  /** Aborts the job's signal, unless it was aborted already (static: not a method the task sees). */
  static abort(job: RunningJob, reason: Error): void {
    const c = (job.#c ??= new AbortController());
    if (!c.signal.aborted) c.abort(reason);
  }
}

/**
 * A `.ts` task module in a CommonJS package (no "type": "module") is loaded as CommonJS, and its
 * `import 'nuvom'` (an ES module that imports the task module back) then fails with Node's raw
 * ERR_REQUIRE_CYCLE_MODULE: say what to change instead.
 */
function loadError(err: unknown, moduleUrl: string): unknown {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code !== 'ERR_REQUIRE_CYCLE_MODULE' && !/Cannot require\(\) ES Module .* in a cycle/.test(String(e?.message))) return err;
  const file = moduleUrl.startsWith('file:') ? fileURLToPath(moduleUrl) : moduleUrl;
  const message = `${path.basename(file)} is TypeScript in a CommonJS package: rename it to .mts, or add "type": "module" to package.json (Node loads it as CommonJS, and its import of nuvom, an ES module, makes a require cycle Node refuses: ERR_REQUIRE_CYCLE_MODULE, ${file})`;
  return Object.assign(new Error(message), { name: 'NuvomError', code: 'NUVOM_E_TASK_LOAD' });
}

export function errorOf(err: unknown): JobError {
  if (err instanceof Error) return { name: err.name || 'Error', message: err.message, stack: err.stack ?? null };
  if (typeof err === 'string') return { name: 'Error', message: err, stack: null };
  // A thrown plain object: keep what it says rather than "[object Object]".
  const o = err !== null && typeof err === 'object' ? err as Record<string, unknown> : null;
  let message: string;
  try {
    message = typeof o?.message === 'string' ? o.message : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { name: typeof o?.name === 'string' ? o.name : 'Error', message: `the task threw a non-Error value: ${message}`, stack: null };
}

/** Module URLs the runner needs a TypeScript loader for (see `RunnerOptions.beforeImport`). */
const TS_MODULE = /\.(?:ts|mts|cts|tsx)$/;

export interface RunnerOptions {
  /** Delivers a message to the pool. */
  post(msg: FromThread): void;
  /** Called (and awaited) once before the first import of a TypeScript task module. */
  beforeTsImport?: () => Promise<void>;
}

export class Runner {
  private readonly modules = new Map<string, Promise<Record<string, unknown>>>();
  private readonly controllers = new Map<string, RunningJob>();
  /**
   * The onError hook of each running job that has one, until it has fired: a timeout fires it from the
   * abort message (the pool may end the thread before the task throws), and the task's own error then
   * does not fire it a second time.
   */
  private readonly errorHooks = new Map<string, (err: Error) => Promise<void>>();
  /** Jobs sent beyond the free slots, in order; `active` jobs run, at most `limit`. */
  private readonly backlog: RunMessage[] = [];
  private active = 0;
  private limit = Infinity;
  private readonly outcomes = new DoneBuilder();
  /**
   * Runs given up on while still running (in-process mode): their late outcome is dropped. By run, not
   * by job id: the job's next attempt may run (and be abandoned) while this one still does.
   */
  private readonly abandoned = new Set<RunningJob>();
  private tsReady: Promise<void> | null = null;
  private readonly flushAndFill = (): void => {
    this.flush();
    this.fill();
  };

  constructor(private readonly o: RunnerOptions) {}

  receive(msg: ToThread): void {
    if (msg.t === 'run') {
      this.limit = msg.limit;
      const { ids, tasks, task, args, attempts } = msg;
      for (let i = 0; i < ids.length; i++) this.backlog.push({ id: ids[i], task: tasks[task[i]], args: args[i], attempt: attempts[i] });
      this.fill();
    } else if (msg.t === 'abort') {
      const c = this.controllers.get(msg.id);
      const reason = new Error(msg.reason === 'timeout' ? 'the job timed out' : msg.reason === 'cancel' ? 'the job was cancelled' : 'the worker is shutting down');
      reason.name = msg.reason === 'timeout' ? 'TimeoutError' : 'AbortError';
      if (c) {
        RunningJob.abort(c, reason);
        const onError = msg.onError ? this.errorHooks.get(msg.id) : undefined;
        if (onError) {
          this.errorHooks.delete(msg.id);
          void onError(reason);
        }
        return;
      }
      const i = this.backlog.findIndex((r) => r.id === msg.id);
      if (i >= 0) {
        this.backlog.splice(i, 1);
        this.outcomes.fail(msg.id, errorOf(reason), true);
        this.scheduleFlush();
      }
    } else if (msg.t === 'abandon') {
      // In-process only: a job that ignored its abort cannot be ended; its slot is freed, its
      // outcome reported now as the abort's error, and whatever it does later is ignored.
      const run = this.controllers.get(msg.id);
      if (!run) return;
      this.abandoned.add(run);
      this.controllers.delete(msg.id);
      this.errorHooks.delete(msg.id);
      this.active--;
      this.outcomes.fail(msg.id, { name: 'AbortError', message: 'the job did not stop after its abort and was abandoned', stack: null });
      this.scheduleFlush();
    } else if (msg.t === 'recall') {
      // Outcomes first, and the slots they free filled, as always: the pool counts on that order.
      this.flush();
      this.fill();
      this.o.post({ t: 'recalled', ids: this.backlog.splice(0).map((r) => r.id) });
    }
  }

  /** Starts backlog jobs in the free slots (only after their freeing was posted: see protocol.ts). */
  private fill(): void {
    // Counted before starting any: a job that ends synchronously frees its slot only for the next
    // fill, after its outcome is posted (protocol.ts), never for this one.
    const n = Math.min(this.limit - this.active, this.backlog.length);
    if (n <= 0) return;
    this.active += n;
    const started = n === this.backlog.length ? this.backlog.splice(0) : this.backlog.splice(0, n);
    for (let i = 0; i < n; i++) this.run(started[i]);
  }

  /** Outcomes finished in one turn of the event loop go back in one message. */
  private scheduleFlush(): void {
    if (this.outcomes.size === 1) setImmediate(this.flushAndFill);
  }

  private flush(): void {
    if (!this.outcomes.size) return;
    const batch = this.outcomes.take();
    try {
      this.o.post(batch);
    } catch {
      // One result could not be cloned: send them one by one so only that job fails.
      const failed = new Set(batch.failed);
      const dropped = new Set(batch.dropped);
      for (let i = 0; i < batch.ids.length; i++) {
        const one: DoneBatch = { t: 'done', ids: [batch.ids[i]], values: [batch.values[i]], failed: failed.has(i) ? [0] : [], dropped: dropped.has(i) ? [0] : [] };
        try {
          this.o.post(one);
        } catch (err) {
          this.o.post({ t: 'done', ids: one.ids, values: [{ name: 'NuvomError', message: `the task returned a value that cannot leave the worker thread (${errorOf(err).message}); return plain data`, stack: null }], failed: [0], dropped: [] });
        }
      }
    }
  }

  private async findTask(msg: RunMessage): Promise<AnyTask> {
    const { taskName, moduleUrl: url, exportName } = msg.task;
    let t = getTask(taskName);
    if (t) return t;
    if (!url) {
      throw Object.assign(new Error(`task "${taskName}" is not defined in this worker and its module is unknown; run \`nuvom discover tasks\` so the manifest lists it`), { name: 'NuvomError', code: 'NUVOM_E_TASK_UNKNOWN' });
    }
    let mod = this.modules.get(url);
    if (!mod) {
      mod = this.load(url);
      this.modules.set(url, mod);
      mod.catch(() => this.modules.delete(url));
    }
    const loaded = await mod;
    t = getTask(taskName);
    if (!t && exportName && isTask(loaded[exportName])) t = loaded[exportName] as AnyTask;
    if (!t) {
      throw Object.assign(new Error(`task "${taskName}" was not found in ${url} after loading it; the manifest may be stale: run \`nuvom discover tasks\``), { name: 'NuvomError', code: 'NUVOM_E_TASK_UNKNOWN' });
    }
    return t;
  }

  private async load(url: string): Promise<Record<string, unknown>> {
    if (this.o.beforeTsImport && TS_MODULE.test(new URL(url).pathname)) {
      const ready = (this.tsReady ??= this.o.beforeTsImport());
      ready.catch(() => { if (this.tsReady === ready) this.tsReady = null; });
      await ready;
    }
    return (import(url) as Promise<Record<string, unknown>>).catch((err: unknown) => { throw loadError(err, url); });
  }

  private async runHook(name: string, fn: (() => unknown) | undefined, jobId: string): Promise<void> {
    if (!fn) return;
    try {
      await fn();
    } catch (err) {
      this.o.post({ t: 'log', level: 'warn', message: `${name} hook of job ${jobId} threw: ${errorOf(err).message}` });
    }
  }

  /**
   * Starts a job: at once where its task is defined here (the common case: no promise of the
   * runner's own in the way), else once its module is loaded.
   */
  private run(msg: RunMessage): void {
    const job = new RunningJob(msg.id, msg.task.taskName, msg.attempt);
    this.controllers.set(msg.id, job);
    const t = getTask(job.taskName);
    if (t) this.start(t, msg, job);
    // Held as running while its module loads: an abort then aborts the job once it starts.
    else this.findTask(msg).then((found) => this.start(found, msg, job), (err: unknown) => this.end(job, false, errorOf(err)));
  }

  /** Runs the task's function (`this` undefined, as docs/tasks.md says) inside currentJob()'s context. */
  private start(t: AnyTask, msg: RunMessage, job: RunningJob): void {
    const o = t.options;
    let result: unknown;
    try {
      result = o.beforeJob || o.afterJob || o.onError ? runInJob(job, () => this.withHooks(t, msg, job)) : runInJob(job, t.fn, msg.args);
    } catch (err) {
      this.end(job, false, errorOf(err));
      return;
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof (result as PromiseLike<unknown>).then === 'function') {
      // A promise, or any thenable, settles as awaiting it would.
      (result instanceof Promise ? result : Promise.resolve(result)).then((v) => this.end(job, true, v), (err: unknown) => this.end(job, false, errorOf(err)));
    } else {
      this.end(job, true, result);
    }
  }

  private async withHooks(t: AnyTask, msg: RunMessage, job: RunningJob): Promise<unknown> {
    const id = msg.id;
    const o = t.options;
    const hookJob = { id, taskName: msg.task.taskName, attempt: msg.attempt, signal: job.signal, args: msg.args };
    if (o.onError) this.errorHooks.set(id, (err) => this.runHook('onError', () => o.onError!(hookJob, err), id));
    await this.runHook('beforeJob', o.beforeJob && (() => o.beforeJob!(hookJob)), id);
    try {
      const fn = t.fn;
      const r = await fn(...msg.args);
      await this.runHook('afterJob', o.afterJob && (() => o.afterJob!(hookJob, r)), id);
      return r;
    } catch (err) {
      const onError = this.errorHooks.get(id);
      this.errorHooks.delete(id);
      if (onError) await onError(err as Error);
      throw err;
    }
  }

  /** A job's outcome: to the next batch, unless it was abandoned. */
  private end(run: RunningJob, ok: boolean, value: unknown): void {
    if (this.abandoned.size && this.abandoned.delete(run)) return;
    const id = run.id;
    this.controllers.delete(id);
    if (this.errorHooks.size) this.errorHooks.delete(id);
    this.active--;
    if (ok) this.outcomes.ok(id, value);
    else this.outcomes.fail(id, value as JobError);
    this.scheduleFlush();
  }
}
