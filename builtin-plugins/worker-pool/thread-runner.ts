/**
 * Runs inside a worker thread: loads task modules on demand, runs jobs (several at once for async
 * tasks), and reports outcomes to the main thread. The hook bus and storage stay on the main thread.
 * Must never: touch the queue or the result store; exit on a task's error.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, threadId } from 'node:worker_threads';
import { getTask, isTask, runInJob, type AnyTask, type JobError } from '../../sdk/plugin.ts';
import type { DoneMessage, FromThread, RunMessage, ToThread } from './protocol.ts';

const port = parentPort!;
const modules = new Map<string, Promise<Record<string, unknown>>>();
/**
 * A running job's abort signal, made when first asked for (by the task, through `currentJob()`, or
 * by an abort): most jobs never look at it, and an AbortController is among the dearest things a
 * no-op job costs here.
 */
class Abort {
  private c: AbortController | null = null;
  get signal(): AbortSignal {
    return (this.c ??= new AbortController()).signal;
  }
  get aborted(): boolean {
    return this.c !== null && this.c.signal.aborted;
  }
  abort(reason: Error): void {
    (this.c ??= new AbortController()).abort(reason);
  }
}
const controllers = new Map<string, Abort>();
/**
 * The onError hook of each running job that has one, until it has fired: a timeout fires it from the
 * abort message (the pool may end the thread before the task throws), and the task's own error then
 * does not fire it a second time.
 */
const errorHooks = new Map<string, (err: Error) => Promise<void>>();

function post(msg: FromThread): void {
  port.postMessage(msg);
}

/** Jobs sent beyond the free slots, in order; `active` jobs run, at most `limit`. */
const backlog: RunMessage[] = [];
let active = 0;
let limit = Infinity;

/** Starts backlog jobs in the free slots (only after their freeing was posted: see protocol.ts). */
function fill(): void {
  while (active < limit && backlog.length) {
    active++;
    void run(backlog.shift()!);
  }
}

let outcomes: DoneMessage[] = [];
/** Outcomes finished in one turn of the event loop go back in one message. */
function done(msg: DoneMessage): void {
  outcomes.push(msg);
  if (outcomes.length > 1) return;
  setImmediate(() => {
    flush();
    fill();
  });
}

function flush(): void {
  if (!outcomes.length) return;
  const batch = outcomes;
  outcomes = [];
  try {
    post({ t: 'done', outcomes: batch });
  } catch {
    // One result could not be cloned: send them one by one so only that job fails.
    for (const o of batch) {
      try {
        post({ t: 'done', outcomes: [o] });
      } catch (err) {
        post({ t: 'done', outcomes: [{ t: 'done', id: o.id, ok: false, error: { name: 'NuvomError', message: `the task returned a value that cannot leave the worker thread (${errorOf(err).message}); return plain data`, stack: null } }] });
      }
    }
  }
}

function errorOf(err: unknown): JobError {
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

async function findTask(msg: RunMessage): Promise<AnyTask> {
  let t = getTask(msg.taskName);
  if (t) return t;
  if (!msg.moduleUrl) {
    throw Object.assign(new Error(`task "${msg.taskName}" is not defined in this worker and its module is unknown; run \`nuvom discover tasks\` so the manifest lists it`), { name: 'NuvomError', code: 'NUVOM_E_TASK_UNKNOWN' });
  }
  let mod = modules.get(msg.moduleUrl);
  if (!mod) {
    mod = (import(msg.moduleUrl) as Promise<Record<string, unknown>>).catch((err: unknown) => { throw loadError(err, msg.moduleUrl!); });
    modules.set(msg.moduleUrl, mod);
    mod.catch(() => modules.delete(msg.moduleUrl!));
  }
  const loaded = await mod;
  t = getTask(msg.taskName);
  if (!t && msg.exportName && isTask(loaded[msg.exportName])) t = loaded[msg.exportName] as AnyTask;
  if (!t) {
    throw Object.assign(new Error(`task "${msg.taskName}" was not found in ${msg.moduleUrl} after loading it; the manifest may be stale: run \`nuvom discover tasks\``), { name: 'NuvomError', code: 'NUVOM_E_TASK_UNKNOWN' });
  }
  return t;
}

async function runHook(name: string, fn: (() => unknown) | undefined, jobId: string): Promise<void> {
  if (!fn) return;
  try {
    await fn();
  } catch (err) {
    post({ t: 'log', level: 'warn', message: `${name} hook of job ${jobId} threw: ${errorOf(err).message}` });
  }
}

async function run(msg: RunMessage): Promise<void> {
  const controller = new Abort();
  controllers.set(msg.id, controller);
  try {
    const t = await findTask(msg);
    const info = { id: msg.id, taskName: msg.taskName, attempt: msg.attempt, get signal() { return controller.signal; } };
    const o = t.options;
    const result = await runInJob(info, o.beforeJob || o.afterJob || o.onError ? async () => {
      const hookJob = { id: msg.id, taskName: msg.taskName, attempt: msg.attempt, signal: controller.signal, args: msg.args };
      if (o.onError) errorHooks.set(msg.id, (err) => runHook('onError', () => o.onError!(hookJob, err), msg.id));
      await runHook('beforeJob', o.beforeJob && (() => o.beforeJob!(hookJob)), msg.id);
      try {
        const r = await t.fn(...msg.args);
        await runHook('afterJob', o.afterJob && (() => o.afterJob!(hookJob, r)), msg.id);
        return r;
      } catch (err) {
        const onError = errorHooks.get(msg.id);
        errorHooks.delete(msg.id);
        if (onError) await onError(err as Error);
        throw err;
      }
    } : () => t.fn(...msg.args));
    done({ t: 'done', id: msg.id, ok: true, result });
  } catch (err) {
    done({ t: 'done', id: msg.id, ok: false, error: errorOf(err) });
  } finally {
    controllers.delete(msg.id);
    errorHooks.delete(msg.id);
    active--;
  }
}

port.on('message', (msg: ToThread) => {
  if (msg.t === 'run') {
    limit = msg.limit;
    for (const r of msg.runs) backlog.push(r);
    fill();
  } else if (msg.t === 'abort') {
    const c = controllers.get(msg.id);
    const reason = new Error(msg.reason === 'timeout' ? 'the job timed out' : msg.reason === 'cancel' ? 'the job was cancelled' : 'the worker is shutting down');
    reason.name = msg.reason === 'timeout' ? 'TimeoutError' : 'AbortError';
    if (c) {
      if (!c.aborted) c.abort(reason);
      const onError = msg.onError ? errorHooks.get(msg.id) : undefined;
      if (onError) {
        errorHooks.delete(msg.id);
        void onError(reason);
      }
      return;
    }
    const i = backlog.findIndex((r) => r.id === msg.id);
    if (i >= 0) {
      backlog.splice(i, 1);
      done({ t: 'done', id: msg.id, ok: false, error: errorOf(reason), dropped: true });
    }
  } else if (msg.t === 'recall') {
    // Outcomes first, and the slots they free filled, as always: the pool counts on that order.
    flush();
    fill();
    post({ t: 'recalled', ids: backlog.splice(0).map((r) => r.id) });
  }
});

post({ t: 'ready', threadId });
