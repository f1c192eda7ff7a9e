/**
 * What the kernel's `enqueue` pipeline hands back is checked before anything is written: its taps
 * may change a job (meta, options, priority, even its arguments) but must return one a backend can
 * store and a worker can run. Without this, a malformed job met each backend differently: a
 * TypeError with no code, a DataCloneError, an error blamed on the storage plugin, or a job stored
 * and failed at run time for arguments that cannot be decoded.
 * Must never: let a job through that a backend would refuse or store damaged; name the wrong plugin.
 */
import { LATEST_RUN_AT, NuvomError, isNuvomError, messageOf, optionProblem, type HookBus, type QueuedJob, type Serializer } from '../../sdk/plugin.ts';

/** Whole epoch milliseconds (PostgreSQL stores run times as bigint: a fraction would fail the write there, and SQLite took it). */
const epochMs = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= LATEST_RUN_AT;

/** A job's options by the names of the task options they come from (checked as those are). */
const OPTION_OF: Record<string, string> = {
  maxRetries: 'retries', retryDelaySecs: 'retryDelaySecs', backoff: 'backoff', timeoutSecs: 'timeoutSecs',
  timeoutPolicy: 'timeoutPolicy', storeResult: 'storeResult', tags: 'tags',
};

const shown = (v: unknown): string => {
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    // circular, BigInt: described below
  }
  return typeof v === 'bigint' ? `${v}n` : Object.prototype.toString.call(v);
};

/** Where `v` is not plain JSON data (null, booleans, finite numbers, strings, arrays, plain objects), or null. */
function notPlain(v: unknown, path: string, depth = 0): string | null {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : `${path} is ${v}`;
  if (depth > 32) return `${path} is nested more than 32 levels deep`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = notPlain(v[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return null;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return `${path} is ${Object.prototype.toString.call(v)}, not a plain object`;
    for (const k of Object.keys(v)) {
      const p = notPlain((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      if (p) return p;
    }
    return null;
  }
  return `${path} is ${shown(v)}`;
}

/** What is wrong with a job an enqueue hook returned, or null. `args` must stay encoded bytes the serializer decodes. */
export function hookedJobProblem(job: unknown, serializer: Serializer): string | null {
  if (job === null || typeof job !== 'object' || Array.isArray(job)) return `returned ${shown(job)} instead of the job`;
  const j = job as Record<string, unknown>;
  if (typeof j.id !== 'string' || !/^[\w.:-]{1,200}$/.test(j.id) || /^\.+$/.test(j.id)) {
    return `returned a job whose id is ${shown(j.id)}: it must be 1-200 characters of letters, digits, "_", "-", ".", ":", and not dots alone`;
  }
  if (typeof j.taskName !== 'string' || j.taskName.trim() === '') return `returned job ${j.id} with taskName ${shown(j.taskName)}: it must be the task's name`;
  if (!(j.args instanceof Uint8Array)) {
    return `returned job ${j.id} with args ${shown(j.args)}: args are the encoded arguments (a Uint8Array); to change them, decode, change and encode them with the serializer service (ctx.resolve('serializer'))`;
  }
  try {
    const args = serializer.decode(j.args);
    if (!Array.isArray(args)) return `returned job ${j.id} with args that decode to ${shown(args)}, not an argument list; encode an array with the serializer service`;
  } catch (err) {
    return `returned job ${j.id} with args the serializer cannot decode (${messageOf(err)}); encode them with the serializer service (ctx.resolve('serializer'))`;
  }
  const badPriority = optionProblem('priority', j.priority);
  if (badPriority) return `returned job ${j.id} with priority ${shown(j.priority)}: it must be ${badPriority}`;
  if (!epochMs(j.runAt)) return `returned job ${j.id} with runAt ${shown(j.runAt)}: it must be whole epoch milliseconds (Date.now() + a delay, Math.ceil'd) before year 10000`;
  if (!epochMs(j.createdAt)) return `returned job ${j.id} with createdAt ${shown(j.createdAt)}: it must be whole epoch milliseconds`;
  if (j.attempts !== 0) return `returned job ${j.id} with attempts ${shown(j.attempts)}: a new job has 0 attempts`;
  const o = j.options;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return `returned job ${j.id} with options ${shown(o)}: keep the job's options object (change its fields)`;
  for (const [k, option] of Object.entries(OPTION_OF)) {
    const v = (o as Record<string, unknown>)[k];
    const expected = optionProblem(option, v);
    if (expected) return `returned job ${j.id} whose options.${k} is ${v === undefined ? 'missing' : shown(v)}: it must be ${expected}`;
  }
  if (j.meta === null || typeof j.meta !== 'object' || Array.isArray(j.meta)) return `returned job ${j.id} with meta ${shown(j.meta)}: meta is an object of plain data`;
  const p = notPlain(j.meta, 'meta');
  if (p) return `returned job ${j.id} whose ${p}: meta must be plain JSON data (strings, finite numbers, booleans, null, arrays, plain objects)`;
  return null;
}

/** Who may have returned it: the plugins tapping the hook (a waterfall: any of them, when several). */
function tappers(names: string[]): string {
  return names.length === 1 ? `the enqueue hook of plugin "${names[0]}"` : `an enqueue hook (plugins ${names.map((n) => `"${n}"`).join(', ')})`;
}

/**
 * Runs the `enqueue` pipeline over a job: the job it returns, checked. A tap that throws refuses the
 * job (NUVOM_E_ENQUEUE_REFUSED naming its plugin, unless it threw a NuvomError of its own code).
 */
export async function throughEnqueueHooks(bus: HookBus, job: QueuedJob, serializer: Serializer): Promise<QueuedJob> {
  let out: unknown;
  try {
    out = await bus.hooks.enqueue.promise(job);
  } catch (err) {
    if (isNuvomError(err) && err.code === 'NUVOM_E_HOOK') {
      // The tap's own words (the hook error's message carries the plugin and hook, said again here).
      const cause = err.cause ?? err;
      throw new NuvomError('NUVOM_E_ENQUEUE_REFUSED', `${messageOf(cause)}; nothing was enqueued`, { plugin: err.plugin, hook: 'enqueue', cause });
    }
    throw err;
  }
  const problem = hookedJobProblem(out, serializer);
  if (problem) {
    const names = [...new Set(bus.hooks.enqueue.taps.map((t) => t.name))];
    throw new NuvomError('NUVOM_E_ENQUEUE_REFUSED', `${tappers(names)} ${problem}; nothing was enqueued`, names.length === 1 ? { plugin: names[0], hook: 'enqueue' } : { hook: 'enqueue' });
  }
  return out as QueuedJob;
}
