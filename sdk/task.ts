/**
 * `task()`: turns a function into a job template. Tasks register in a process-wide table (kept on
 * globalThis so that every copy of this module, source or built, sees one table); the registry
 * plugin and the worker threads read it from there.
 * Must never: touch storage or boot the kernel at definition time (a task module is imported by
 * workers and by discovery-free code paths and must stay cheap to import).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
// Only the error class at run time: a worker thread imports this (through a task module's `nuvom`)
// and must not load the kernel (hooks, container, config) to run a job.
import { NuvomError } from '../kernel/errors.ts';
import type { Backoff, JobRecord, TimeoutPolicy, Trigger } from '../kernel/index.ts';
import { taskNameProblem } from './task-names.ts';
import { OWN_API_PREFIXES } from './own-files.ts';

export interface JobInfo {
  id: string;
  taskName: string;
  attempt: number;
  signal: AbortSignal;
}

export interface TaskOptions<A extends unknown[] = unknown[], R = unknown> {
  name?: string;
  retries?: number;
  retryDelaySecs?: number;
  backoff?: Backoff;
  timeoutSecs?: number;
  timeoutPolicy?: TimeoutPolicy;
  storeResult?: boolean;
  priority?: number;
  tags?: string[];
  description?: string;
  beforeJob?: (job: JobInfo & { args: A }) => unknown;
  afterJob?: (job: JobInfo & { args: A }, result: Awaited<R>) => unknown;
  onError?: (job: JobInfo & { args: A }, error: Error) => unknown;
}

/** Per-call options of `task.enqueue()`. */
export interface EnqueueOptions<A extends unknown[]> {
  args: A;
  priority?: number;
  delaySecs?: number;
  /** Run at (or after) this time. */
  runAt?: Date | number | string;
  retries?: number;
  retryDelaySecs?: number;
  backoff?: Backoff;
  timeoutSecs?: number;
  timeoutPolicy?: TimeoutPolicy;
  storeResult?: boolean;
  tags?: string[];
  /** A caller-chosen id (idempotency key); refused if that id is already queued. */
  id?: string;
  /**
   * The application's own database client inside its open transaction (PostgreSQL: a pg.Client, or a
   * client from pool.connect(), after BEGIN): the job is written through it, so it exists if and only
   * if that transaction commits. Needs a queue and result store that can (`postgres`); others refuse
   * with NUVOM_E_UNSUPPORTED. See also `inTransaction()` for `delay()` and `map()`.
   */
  tx?: unknown;
}

/**
 * Options of `task.map()`: each applies to every job of the map, as the same option of `enqueue()`
 * would to one (`tx`: every job is written in the application's transaction). Not `id`: ids are per job.
 */
export type MapOptions = Omit<EnqueueOptions<unknown[]>, 'args' | 'id'>;

/** The keys of one call's options (EnqueueOptions). */
export const CALL_KEYS = ['args', 'priority', 'delaySecs', 'runAt', 'retries', 'retryDelaySecs', 'backoff', 'timeoutSecs', 'timeoutPolicy', 'storeResult', 'tags', 'id', 'tx'];
const MAP_KEYS = CALL_KEYS.filter((k) => k !== 'args' && k !== 'id');

export interface ResultOptions {
  /** Give up waiting after this long (rejects with NUVOM_E_RESULT_TIMEOUT); default: wait forever. */
  timeoutSecs?: number;
}

export interface JobHandle<R = unknown> {
  readonly id: string;
  readonly taskName: string;
  /** Resolves to the task's return value, or rejects with its error. */
  result(opts?: ResultOptions): Promise<Awaited<R>>;
  /** The current job record, or null. */
  record(): Promise<JobRecord | null>;
}

export interface ScheduleHandle {
  /** A UUID, or `key:<key>` for a keyed schedule. */
  id: string;
  /** Set for a keyed schedule (`schedule({ ..., key })`), which replaces the one stored with that key. */
  key?: string;
  nextRunAt: string | null;
}

/** What the default client offers task objects; set by sdk/client.ts. */
export interface TaskDispatch {
  enqueue(task: AnyTask, calls: Array<EnqueueOptions<unknown[]>>): Promise<JobHandle[]>;
  schedule(task: AnyTask, trigger: Trigger, args: unknown[]): Promise<ScheduleHandle>;
}

export interface Task<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  readonly options: Readonly<TaskOptions<A, R>>;
  readonly fn: (...args: A) => R;
  /** file:// URL of the module that defined the task, when it could be found. */
  readonly moduleUrl: string | null;
  delay(...args: A): Promise<JobHandle<R>>;
  map(argLists: A[], opts?: MapOptions): Promise<Array<JobHandle<R>>>;
  enqueue(opts: EnqueueOptions<A>): Promise<JobHandle<R>>;
  schedule(trigger: Trigger, ...args: A): Promise<ScheduleHandle>;
  /** Runs the function here and now, with no queue (tests, scripts). */
  run(...args: A): Promise<Awaited<R>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTask = Task<any[], any>;

interface TaskTable {
  tasks: Map<string, AnyTask>;
  dispatch: TaskDispatch | null;
  /** Lazily creates the default client; installed by sdk/client.ts. */
  defaultDispatch: (() => Promise<TaskDispatch>) | null;
  /**
   * The open clients' dispatches, oldest first: the next serves task().delay() when the serving one
   * closes. Empty (not undefined) once every client this process created is closed: task().delay()
   * is then refused (NUVOM_E_CLIENT_CLOSED) rather than served by a new default client, which may be
   * configured elsewhere (another backend).
   */
  open?: Set<TaskDispatch>;
}

const TABLE_KEY = Symbol.for('nuvom.tasks.v1');
const TX_KEY = Symbol.for('nuvom.tx.v1');

/** The transaction scope of inTransaction(), shared by every copy of this module (globalThis). */
function txScope(): AsyncLocalStorage<{ tx: unknown }> {
  const g = globalThis as unknown as Record<symbol, AsyncLocalStorage<{ tx: unknown }> | undefined>;
  return (g[TX_KEY] ??= new AsyncLocalStorage<{ tx: unknown }>());
}

/**
 * Runs `fn` with every enqueue inside it (`delay()`, `map()`, `enqueue()`, `client.enqueue()`)
 * written through `tx`, the application's own database client inside its open transaction: the
 * jobs exist if and only if that transaction commits. A call's own `tx` option wins.
 */
export function inTransaction<T>(tx: unknown, fn: () => T): T {
  if (tx === null || tx === undefined) throw new NuvomError('NUVOM_E_TASK_INVALID', 'inTransaction(tx, fn) needs the application\'s database client (e.g. a pg client after BEGIN)');
  return txScope().run({ tx }, fn);
}

/** The transaction of the enclosing inTransaction(), if any. */
export function currentTransaction(): unknown {
  return txScope().getStore()?.tx;
}

export function taskTable(): TaskTable {
  const g = globalThis as unknown as Record<symbol, TaskTable | undefined>;
  return (g[TABLE_KEY] ??= { tasks: new Map(), dispatch: null, defaultDispatch: null });
}

/** Priorities and retry counts are stored as 32-bit integers (PostgreSQL's int): larger ones are refused here, not by the database. */
const INT32_MAX = 2_147_483_647;
const inInt32 = (v: unknown): boolean => Number.isInteger(v) && Math.abs(v as number) <= INT32_MAX;

const OPTION_CHECKS: Record<string, (v: unknown) => boolean> = {
  name: (v) => typeof v === 'string' && v.trim() !== '',
  retries: (v) => inInt32(v) && (v as number) >= 0,
  retryDelaySecs: (v) => typeof v === 'number' && v >= 0 && Number.isFinite(v),
  backoff: (v) => v === 'fixed' || v === 'exponential',
  timeoutSecs: (v) => typeof v === 'number' && v > 0 && Number.isFinite(v),
  timeoutPolicy: (v) => v === 'retry' || v === 'fail' || v === 'ignore',
  storeResult: (v) => typeof v === 'boolean',
  priority: inInt32,
  tags: (v) => Array.isArray(v) && v.every((t) => typeof t === 'string'),
  description: (v) => typeof v === 'string',
  beforeJob: (v) => typeof v === 'function',
  afterJob: (v) => typeof v === 'function',
  onError: (v) => typeof v === 'function',
};

const EXPECTED: Record<string, string> = {
  name: 'a non-empty string', retries: 'a whole number from 0 to 2147483647', retryDelaySecs: 'a number >= 0',
  backoff: "'fixed' or 'exponential'", timeoutSecs: 'a number > 0', timeoutPolicy: "'retry', 'fail' or 'ignore'",
  storeResult: 'true or false', priority: 'a whole number from -2147483647 to 2147483647', tags: 'an array of strings', description: 'a string',
  beforeJob: 'a function', afterJob: 'a function', onError: 'a function',
};

/** What option `key` must be, when `v` is not that (a known option only); else null. */
export function optionProblem(key: string, v: unknown): string | null {
  return OPTION_CHECKS[key] && !OPTION_CHECKS[key](v) ? EXPECTED[key] : null;
}

/** Validates task (or per-call) options; the error names the option, the task and what is expected. */
export function checkOptions(opts: Record<string, unknown>, label: string | (() => string), allowed = Object.keys(OPTION_CHECKS)): void {
  // `label` may be a function: the dispatcher checks every call of a map() and names one only on error.
  const name = () => (typeof label === 'string' ? label : label());
  for (const k in opts) {
    const v = opts[k];
    if (v === undefined || !Object.prototype.hasOwnProperty.call(opts, k)) continue;
    if (!allowed.includes(k)) {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `${name()}: unknown option "${k}"; known options: ${allowed.join(', ')}`);
    }
    const expected = optionProblem(k, v);
    if (expected) throw new NuvomError('NUVOM_E_TASK_INVALID', `${name()}: option "${k}" must be ${expected}, got ${JSON.stringify(v) ?? String(v)}`);
  }
}

/** file:// URL prefixes of nuvom's own API code (source or built), skipped when finding the caller. */
const OWN = OWN_API_PREFIXES;

/** The file:// URL of the first stack frame outside nuvom's own files: the module calling task(). */
function callerModuleUrl(): string | null {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const line of stack) {
    const m = /(file:\/\/[^\s)]+?|\/[^\s():]+?):\d+:\d+\)?$/.exec(line.trim());
    if (!m) continue;
    const clean = (m[1].startsWith('file://') ? m[1] : pathToFileURL(m[1]).href).split('?')[0];
    if (OWN.some((own) => clean.startsWith(own)) || clean.includes('/node_modules/tsx/')) continue;
    return clean;
  }
  return null;
}

async function dispatcher(): Promise<TaskDispatch> {
  const table = taskTable();
  if (table.dispatch) return table.dispatch;
  if (table.open?.size === 0) {
    throw new NuvomError('NUVOM_E_CLIENT_CLOSED', 'enqueue: the nuvom client that served task().delay() was closed (client.close()) and no other is open; create one with createClient() before enqueueing (a new default client could write the job to another backend); nothing was enqueued');
  }
  if (!table.defaultDispatch) {
    // Installed when sdk/index.ts (the `nuvom` entry) is loaded; importing it here would make every
    // worker thread load the whole client.
    await import('./client.ts');
  }
  return table.defaultDispatch!();
}

export interface RegisterOptions {
  /** Replace an existing task of the same name instead of refusing. */
  force?: boolean;
  /** Keep the existing task of the same name, quietly, instead of refusing (the original's `silent`). */
  silent?: boolean;
}

export function task<A extends unknown[], R>(fn: (...args: A) => R): Task<A, R>;
export function task<A extends unknown[], R>(options: TaskOptions<A, R>, fn: (...args: A) => R): Task<A, R>;
/**
 * `@task(options)` on a class method (TC39 decorators, as TypeScript 5 and tsx compile them): the
 * method becomes a task named `options.name`, else the method's name, registered when the class is
 * defined. It runs without an instance (`this` is undefined); enqueue it by name
 * (`client.enqueue(name, args)`, `nuvom enqueue NAME`), or through `getTask(name)`.
 */
export function task(options?: TaskOptions<unknown[], unknown>): <This, A extends unknown[], R>(method: (this: This, ...args: A) => R, context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>) => void;
export function task<A extends unknown[], R>(a?: TaskOptions<A, R> | ((...args: A) => R), b?: (...args: A) => R): Task<A, R> | ((method: (...args: A) => R, context: ClassMethodDecoratorContext) => void) {
  if (b === undefined && typeof a !== 'function' && (a === undefined || (typeof a === 'object' && a !== null))) {
    const opts = { ...(a ?? {}) } as TaskOptions<A, R>;
    const decorate = (method: (...args: A) => R, context: ClassMethodDecoratorContext) => {
      if (context?.kind !== 'method' || typeof method !== 'function') {
        throw new NuvomError('NUVOM_E_TASK_INVALID', `@task() decorates class methods, not a ${context?.kind ?? typeof method}; for a function write task(options, fn)`);
      }
      task({ ...opts, name: opts.name ?? String(context.name) }, method);
    };
    // `const x = task({ name: 'x' })` forgot the function: say so where it is used, not "not a function".
    const misuse = () => {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `task(${opts.name ? `{ name: "${opts.name}" }` : 'options'}) without a function is a method decorator (@task(...)); to make a task from a function write task(options, fn)`);
    };
    return Object.assign(decorate, { delay: misuse, map: misuse, enqueue: misuse, schedule: misuse, run: misuse });
  }
  const fn = typeof a === 'function' ? a : b;
  const options: TaskOptions<A, R> = typeof a === 'function' ? {} : { ...(a ?? {}) };
  if (typeof fn !== 'function') {
    throw new NuvomError('NUVOM_E_TASK_INVALID', 'task() needs a function: task(fn) or task({ name: "x", ... }, fn)');
  }
  const name = options.name ?? (fn.name && fn.name !== 'anonymous' ? fn.name : '');
  if (!name) {
    throw new NuvomError('NUVOM_E_TASK_INVALID', 'task() could not find a name: the function is anonymous; pass one with task({ name: "my.task" }, fn) or use a named function');
  }
  const badName = taskNameProblem(name);
  if (badName) throw new NuvomError('NUVOM_E_TASK_INVALID', `task(): ${badName}`, { details: { name } });
  checkOptions(options as Record<string, unknown>, `task "${name}"`);
  const moduleUrl = callerModuleUrl();
  const self: Task<A, R> = {
    name,
    options: Object.freeze(options),
    fn,
    moduleUrl,
    async delay(...args: A) {
      const [h] = await (await dispatcher()).enqueue(self as AnyTask, [{ args }]);
      return h as JobHandle<R>;
    },
    async map(argLists: A[], mapOpts?: MapOptions) {
      if (!Array.isArray(argLists) || argLists.some((x) => !Array.isArray(x))) {
        throw new NuvomError('NUVOM_E_TASK_INVALID', `task "${name}".map() takes an array of argument lists, e.g. .map([[1, 2], [3, 4]])`);
      }
      if (mapOpts !== undefined && (mapOpts === null || typeof mapOpts !== 'object' || Array.isArray(mapOpts))) {
        throw new NuvomError('NUVOM_E_TASK_INVALID', `task "${name}".map(): the options must be an object such as { priority: 5 }, got ${JSON.stringify(mapOpts) ?? String(mapOpts)}`);
      }
      if (mapOpts && 'id' in mapOpts && (mapOpts as { id?: unknown }).id !== undefined) {
        throw new NuvomError('NUVOM_E_TASK_INVALID', `task "${name}".map(): "id" names one job, and map() makes many; enqueue each with enqueue({ args, id }) instead`);
      }
      // Checked here, where the message can say map(); the dispatcher checks the values again per job.
      if (mapOpts) checkOptions(mapOpts as Record<string, unknown>, `task "${name}".map()`, MAP_KEYS);
      const common = mapOpts ? Object.fromEntries(Object.entries(mapOpts).filter(([, v]) => v !== undefined)) : {};
      const shared = Object.keys(common).length > 0;
      return (await (await dispatcher()).enqueue(self as AnyTask, argLists.map((args) => (shared ? { ...common, args } : { args })))) as Array<JobHandle<R>>;
    },
    async enqueue(opts: EnqueueOptions<A>) {
      if (!opts || !Array.isArray(opts.args)) {
        throw new NuvomError('NUVOM_E_TASK_INVALID', `task "${name}".enqueue() needs { args: [...] }`);
      }
      const [h] = await (await dispatcher()).enqueue(self as AnyTask, [opts as EnqueueOptions<unknown[]>]);
      return h as JobHandle<R>;
    },
    async schedule(trigger: Trigger, ...args: A) {
      return (await dispatcher()).schedule(self as AnyTask, trigger, args);
    },
    run: async (...args: A): Promise<Awaited<R>> => (await fn(...args)) as Awaited<R>,
  };
  registerTask(self as AnyTask);
  return self;
}

/**
 * Adds a task to the process-wide table. A task from another module under a taken name is refused
 * unless forced; the same module defining it again (a dev reload re-imports it) replaces it.
 */
export function registerTask(t: AnyTask, opts: RegisterOptions = {}): void {
  const { tasks } = taskTable();
  const prior = tasks.get(t.name);
  if (prior && prior !== t && !opts.force && prior.moduleUrl !== t.moduleUrl) {
    if (opts.silent) return;
    throw new NuvomError('NUVOM_E_TASK_DUPLICATE', `a task named "${t.name}" is already registered${prior.moduleUrl ? ` (from ${prior.moduleUrl})` : ''}; rename one or register with { force: true }`);
  }
  tasks.set(t.name, t);
}

export function getTask(name: string): AnyTask | undefined {
  return taskTable().tasks.get(name);
}

export function isTask(v: unknown): v is AnyTask {
  return typeof v === 'object' && v !== null && typeof (v as AnyTask).delay === 'function' && typeof (v as AnyTask).fn === 'function'
    && typeof (v as AnyTask).name === 'string';
}
