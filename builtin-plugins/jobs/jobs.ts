/**
 * The dispatcher and job control: turns calls into jobs (options resolved, arguments encoded and
 * checked, the kernel's `enqueue` pipeline run), writes the PENDING records and the queue, and serves
 * getJob / listJobs / retry / cancel / waitForResult over the configured services.
 * Must never: write a job to the queue whose arguments failed to encode (nothing is enqueued then).
 */
import { randomFillSync } from 'node:crypto';
import {
  untap, CALL_KEYS, FINAL_STATUSES, LATEST_RUN_AT, NuvomError, checkOptions, duplicateJob, valueTooBig, currentTransaction, jobOptions, messageOf, markIdGenerated, recordOf, rememberArgsBytes, taskNameProblem, toError, withTimeout,
  type AnyTask, type Clock, type EnqueueCall, type EnqueueOptions, type HookBus, type JobHandle, type JobOptions, type JobRecord,
  type JobStore, type JobsService, type ListJobsFilter, type NuvomConfig, type Queue, type QueuedJob, type RegistryService,
  type ResultOptions, type ResultStore, type Serializer, type TaskOptionsSnapshot,
} from '../../sdk/plugin.ts';
import { throughEnqueueHooks } from './hooked.ts';


export interface JobsDeps {
  config: NuvomConfig;
  queue: Queue;
  resultStore: ResultStore;
  /** Where enqueues are written: queue and records together (see JobStore). */
  store: JobStore;
  serializer: Serializer;
  bus: HookBus;
  clock: Clock;
  registry: RegistryService;
}

const uuidBytes = new Uint8Array(16);
/** Random bytes drawn 4 KiB at a time: one randomFillSync per id cost ten times randomUUID(). */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
let lastMs = -1;
let seq = 0;

/**
 * A new job id: a UUID version 7 (RFC 9562), 48 bits of epoch milliseconds, a 12-bit counter within
 * the millisecond (method 1), then random bits. Ids made one after another sort in making order, so
 * a batch of jobs lands on neighbouring B-tree pages of the SQLite tables (one page write per dozen
 * records instead of one per record, docs/benchmarks.md); random v4 ids spread every write over the
 * whole table. 74 random bits keep ids of processes starting in the same millisecond apart.
 */
export function newJobId(now = Date.now()): string {
  if (poolAt + 16 > pool.length) { randomFillSync(pool); poolAt = 0; }
  uuidBytes.set(pool.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  let ms = Math.max(now, lastMs);
  if (ms === lastMs) {
    seq += 1;
    if (seq > 0xfff) { ms += 1; seq = uuidBytes[7] & 0x3ff; }
  } else {
    seq = ((uuidBytes[6] & 0x03) << 8) | uuidBytes[7]; // start low in the range, leaving room to count up
  }
  lastMs = ms;
  const b = uuidBytes;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (seq >>> 8);
  b[7] = seq & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  // Indexed directly, without a helper closure: the bundle names every closure it sees made
  // (esbuild's keepNames, an Object.defineProperty each time), and this runs once per job.
  return `${HEX[b[0]]}${HEX[b[1]]}${HEX[b[2]]}${HEX[b[3]]}-${HEX[b[4]]}${HEX[b[5]]}-${HEX[b[6]]}${HEX[b[7]]}-${HEX[b[8]]}${HEX[b[9]]}-${HEX[b[10]]}${HEX[b[11]]}${HEX[b[12]]}${HEX[b[13]]}${HEX[b[14]]}${HEX[b[15]]}`;
}

/**
 * What a result() timeout tells the caller to do, from the record it last read: a job running or
 * waiting for its retry needs a longer wait, a job due later its time; only a job due now that no one
 * runs asks for a worker.
 */
function stillWhy(rec: JobRecord): string {
  const next = rec.nextRunAt !== null && Date.parse(rec.nextRunAt) > Date.now() ? rec.nextRunAt : null;
  if (rec.status === 'RUNNING') return `attempt ${rec.attempts} is running${rec.workerId ? ` on worker ${rec.workerId}` : ''}: wait longer (result({ timeoutSecs }))`;
  if (next) return `${rec.status === 'RETRYING' ? `attempt ${rec.attempts} failed and the next one` : 'it'} is not due before ${next}: wait past that time`;
  return 'is a worker running? (nuvom runworker)';
}

/** How an error names a call: its task, and its place in a batch of several. */
function labelOf(taskName: string, i: number, n: number): string {
  return `task "${taskName}"${n > 1 ? ` (call ${i})` : ''}`;
}

function runAtOf(call: EnqueueOptions<unknown[]>, now: number, label: string): number {
  if (call.runAt !== undefined && call.delaySecs !== undefined) {
    throw new NuvomError('NUVOM_E_TASK_INVALID', `${label}: give delaySecs or runAt, not both (got delaySecs ${JSON.stringify(call.delaySecs)} and runAt ${JSON.stringify(call.runAt)})`);
  }
  if (call.runAt !== undefined) {
    const t = call.runAt instanceof Date ? call.runAt.getTime() : typeof call.runAt === 'number' ? call.runAt : Date.parse(call.runAt);
    if (!Number.isFinite(t)) throw new NuvomError('NUVOM_E_TASK_INVALID', `${label}: runAt ${JSON.stringify(call.runAt)} is not a valid time`);
    if (t > LATEST_RUN_AT) throw new NuvomError('NUVOM_E_TASK_INVALID', `${label}: runAt ${JSON.stringify(call.runAt)} is past year 9999; give a time before 10000-01-01`);
    // Run times are whole epoch milliseconds on every backend (PostgreSQL stores them as bigint): a
    // fraction (runAt: Date.now() + 0.5, delaySecs: 1 / 3) is rounded up, never run early.
    return Math.ceil(t);
  }
  if (call.delaySecs !== undefined) {
    if (typeof call.delaySecs !== 'number' || !(call.delaySecs >= 0)) {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `${label}: delaySecs must be a number >= 0, got ${JSON.stringify(call.delaySecs)}`);
    }
    if (now + call.delaySecs * 1000 > LATEST_RUN_AT) {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `${label}: delaySecs ${call.delaySecs} puts the job past year 9999; give a shorter delay`);
    }
    return Math.ceil(now + call.delaySecs * 1000);
  }
  return now;
}

/**
 * Whether a hook has anyone to call: a tap, or an interceptor that sees calls. tapable's isUsed()
 * also counts the hook bus's own `register` interceptor (kernel/hooks.ts), so it was always true and
 * every job of a map() ran the enqueue pipeline (a promise per job) and built its jobEnqueued event
 * with nobody listening (the worker pool checks its hooks the same way).
 */
function listened(hook: { taps: readonly unknown[]; interceptors: readonly object[] }): boolean {
  if (hook.taps.length) return true;
  for (const i of hook.interceptors as Array<Record<string, unknown>>) {
    if (i.call || i.tap || i.done || i.result || i.error || i.loop) return true;
  }
  return false;
}

/** Whether a call sets nothing but its arguments (no per-call option to check or apply). */
function onlyArgs(call: EnqueueOptions<unknown[]>): boolean {
  for (const k in call) if (k !== 'args' && (call as unknown as Record<string, unknown>)[k] !== undefined) return false;
  return true;
}

/**
 * A record's arguments: a copy of the call's list (never the caller's own array, which may be
 * frozen or reused), carrying the bytes they were just encoded to, so the store writes those instead
 * of encoding the list again (nuvom/plugin argsBytesOf). An enqueue hook may change the job's
 * arguments, not the call's: `bytes` are the call's.
 */
function argsOfRecord(args: unknown[], bytes: Uint8Array): unknown[] {
  if (!Array.isArray(args)) return args;
  const copy = args.slice();
  rememberArgsBytes(copy, bytes);
  return copy;
}

/** The one transaction of a batch: the calls' own `tx` (all the same), else inTransaction()'s. */
function transactionOf(calls: EnqueueCall[]): unknown {
  if (calls.length === 1) return calls[0].call.tx !== undefined ? calls[0].call.tx : currentTransaction();
  const own = calls.map((c) => c.call.tx).filter((t) => t !== undefined);
  if (own.length && (own.length !== calls.length || own.some((t) => t !== own[0]))) {
    throw new NuvomError('NUVOM_E_TASK_INVALID', 'every call of one enqueue batch must use the same tx (or none); nothing was enqueued');
  }
  return own.length ? own[0] : currentTransaction();
}

/*
 * A handle's methods, made by these functions rather than written in the object literal: the bundle
 * names a function written where a name is inferred (esbuild's keepNames: an Object.defineProperty
 * each), and a map() makes two per job. They stay own properties, so a destructured `result` works.
 */
function resultGetter(jobs: Jobs, id: string): JobHandle['result'] {
  return (opts?: ResultOptions) => jobs.waitForResult(id, opts) as Promise<never>;
}

function recordGetter(jobs: Jobs, id: string): JobHandle['record'] {
  return () => jobs.getJob(id);
}

export class Jobs implements JobsService {
  /** result() calls waiting now: close() wakes them to end with NUVOM_E_CLIENT_CLOSED. */
  private readonly waiting = new Set<() => void>();
  private closed = false;

  constructor(private readonly d: JobsDeps) {}

  /** The client is closing: waiting result() calls end with NUVOM_E_CLIENT_CLOSED instead of a store's "closed" error. */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiting]) w();
  }

  async enqueueTask(task: AnyTask, calls: Array<EnqueueOptions<unknown[]>>): Promise<JobHandle[]> {
    return this.enqueue(calls.map((call) => ({ taskName: task.name, taskOptions: task.options as TaskOptionsSnapshot, call })));
  }

  async enqueue(calls: EnqueueCall[]): Promise<JobHandle[]> {
    if (calls.length === 0) return [];
    const { config, serializer, bus } = this.d;
    const now = this.d.clock.now();
    // Names from outside (client.enqueue, `nuvom enqueue NAME`) are checked before they are printed or
    // stored; once per run of one name, since a map() repeats it for every call.
    let checkedName: string | undefined;
    // The options of calls that set none (every delay()'s and map()'s without per-call options): built
    // once per task and shared by those jobs, unless an enqueue hook listens (it may change one job's).
    const share = !listened(bus.hooks.enqueue);
    let sharedFor: TaskOptionsSnapshot | undefined;
    let shared: JobOptions | undefined;
    const jobs0: QueuedJob[] = new Array(calls.length);
    const encoded: Uint8Array[] = new Array(calls.length);
    for (let i = 0; i < calls.length; i++) {
      const { taskName, taskOptions, call } = calls[i];
      if (taskName !== checkedName) {
        const badName = typeof taskName === 'string' ? taskNameProblem(taskName) : 'the task name is not a string';
        if (badName) throw new NuvomError('NUVOM_E_TASK_INVALID', `enqueue: ${badName}; nothing was enqueued`, { details: { taskName } });
        checkedName = taskName;
      }
      // Named only in an error. Not a closure made per call (see newJobId): a call with options of
      // its own, the uncommon case, makes one for checkOptions.
      const argsOnly = onlyArgs(call);
      if (!argsOnly) {
        const label = () => labelOf(taskName, i, calls.length);
        checkOptions(call as unknown as Record<string, unknown>, label, CALL_KEYS);
        // Not dots alone: "." and ".." are path segments a URL (the dashboard's /jobs/<id>) resolves away.
        if (call.id !== undefined && (typeof call.id !== 'string' || !/^[\w.:-]{1,200}$/.test(call.id) || /^\.+$/.test(call.id))) {
          throw new NuvomError('NUVOM_E_TASK_INVALID', `${label()}: id must be 1-200 characters of letters, digits, "_", "-", ".", ":", and not dots alone`);
        }
      }
      let args: Uint8Array;
      try {
        args = serializer.encode(call.args);
      } catch (err) {
        const m = messageOf(err).replace(/^value\[(\d+)\]((?:\.[\w$]+|\[[^\]]*\])*)/, (_s, n, rest) => `argument ${Number(n) + 1} (args[${n}]${rest})`);
        throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${labelOf(taskName, i, calls.length)}: ${m}; nothing was enqueued`, { cause: err });
      }
      const big = valueTooBig(args, 'arguments');
      if (big) throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${labelOf(taskName, i, calls.length)}: ${big}; nothing was enqueued`);
      encoded[i] = args;
      jobs0[i] = {
        id: call.id ?? newJobId(),
        taskName,
        args,
        priority: call.priority ?? taskOptions.priority ?? 0,
        runAt: call.runAt === undefined && call.delaySecs === undefined ? now : runAtOf(call, now, labelOf(taskName, i, calls.length)),
        attempts: 0,
        createdAt: now,
        // The call's per-job options have the task options' names (retries, timeoutSecs, ...).
        options: argsOnly && share
          ? (sharedFor === taskOptions ? shared! : (sharedFor = taskOptions, shared = jobOptions(taskOptions, {}, config)))
          : jobOptions(taskOptions, call as Partial<TaskOptionsSnapshot>, config),
        meta: {},
      };
      // Only a job enqueued alone (a delay()) is marked: the stores read it there (a map()'s batch
      // tries its plain INSERT whatever its ids), and a 10,000-job map() adds nothing to a WeakSet.
      if (call.id === undefined && calls.length === 1) markIdGenerated(jobs0[i]);
    }
    let jobs = jobs0;
    /** Arguments an enqueue hook re-encoded, by job: the job's record shows those. */
    let hookArgs: Map<number, unknown[]> | undefined;
    if (listened(bus.hooks.enqueue)) {
      const piped: QueuedJob[] = [];
      for (let i = 0; i < jobs.length; i++) {
        const out = await throughEnqueueHooks(bus, jobs[i], serializer);
        // Arguments a tap re-encoded are the job's: its record shows them.
        if (out.args !== encoded[i]) {
          encoded[i] = out.args;
          (hookArgs ??= new Map()).set(i, serializer.decode(out.args) as unknown[]);
        }
        piped.push(out);
      }
      jobs = piped;
    }
    // Caller-chosen ids are idempotency keys: refuse one whose job is not final yet.
    let ids: Set<string> | undefined;
    for (const c of calls) if (c.call.id !== undefined) (ids ??= new Set()).add(c.call.id);
    if (ids) for (const id of ids) {
      const prior = await this.d.resultStore.getFull(id);
      if (prior && !FINAL_STATUSES.includes(prior.status)) {
        // The backends' words (duplicateJob), with details.jobId, and the status the job is in.
        throw duplicateJob(id, undefined, prior.status);
      }
    }
    const records = jobs.map((job, i) => recordOf(job, argsOfRecord(hookArgs?.get(i) ?? calls[i].call.args, encoded[i]), { status: 'PENDING', attempts: 0, nextRunAt: job.runAt > now ? job.runAt : null }));
    // One transaction for records and queue entries where one plugin holds both (its job store),
    // else records first, then the queue (pairJobStore). With the app's transaction, only a store
    // that can write through it: no fallback to two separate writes.
    const tx = transactionOf(calls);
    if (tx === undefined) await this.d.store.enqueue(jobs, records);
    else if (this.d.store.enqueueInTransaction) await this.d.store.enqueueInTransaction(tx, jobs, records);
    else throw new NuvomError('NUVOM_E_UNSUPPORTED', `enqueue with { tx } needs a job store that writes in the application's transaction (NUVOM_QUEUE_BACKEND=postgres and NUVOM_RESULT_BACKEND=postgres); nothing was enqueued`);
    if (listened(bus.hooks.jobEnqueued)) {
      for (const job of jobs) bus.emit('jobEnqueued', { jobId: job.id, taskName: job.taskName, attempt: 0, at: now });
    }
    return jobs.map((j) => this.handle(j.id, j.taskName));
  }

  handle(id: string, taskName: string): JobHandle {
    return { id, taskName, result: resultGetter(this, id), record: recordGetter(this, id) };
  }

  getJob(id: string): Promise<JobRecord | null> {
    return this.d.resultStore.getFull(id);
  }

  listJobs(filter?: ListJobsFilter): Promise<JobRecord[]> {
    return this.d.resultStore.listJobs(filter);
  }

  stats(sinceMs?: number) {
    return this.d.resultStore.stats(sinceMs ?? this.d.clock.now() - 60_000);
  }

  /**
   * The record, read for result(): a read that has not answered a second past the deadline (a stalled
   * connection) ends the wait, as the timeout says, instead of holding it for as long as the store does.
   */
  private async readWithin(id: string, deadline: number, timeoutSecs: number | undefined): Promise<JobRecord | null> {
    const read = this.d.resultStore.getFull(id);
    if (deadline === Infinity) return read;
    read.catch(() => undefined); // given up on below: its late failure is nobody's
    return withTimeout(() => read, Math.max(0, deadline - Date.now()) + 1000,
      () => new NuvomError('NUVOM_E_RESULT_TIMEOUT', `job "${id}": the result store did not answer within ${timeoutSecs}s (is its database reachable?); the job goes on in the queue`));
  }

  async waitForResult(id: string, opts: ResultOptions = {}): Promise<unknown> {
    const t = opts.timeoutSecs;
    if (t !== undefined && (typeof t !== 'number' || !(t >= 0))) {
      throw new NuvomError('NUVOM_E_TASK_INVALID', `result({ timeoutSecs }) must be a number of seconds >= 0, got ${JSON.stringify(t) ?? String(t)}`);
    }
    const deadline = opts.timeoutSecs === undefined ? Infinity : Date.now() + opts.timeoutSecs * 1000;
    let delay = 1;
    let wake: (() => void) | null = null;
    const onEvent = (e: { jobId: string }) => { if (e.jobId === id && wake) wake(); };
    const hooks = this.d.bus.hooks;
    const name = `wait:${id}`;
    hooks.jobSucceeded.tap(name, onEvent);
    hooks.jobFailed.tap(name, onEvent);
    hooks.jobCancelled.tap(name, onEvent);
    // Other processes' outcomes, where the store can tell (PostgreSQL NOTIFY); null: look again.
    const offFinal = this.d.resultStore.subscribeFinal?.((done) => { if ((done === null || done === id) && wake) wake(); });
    const ended = () => { if (wake) wake(); };
    this.waiting.add(ended);
    try {
      for (;;) {
        if (this.closed) throw new NuvomError('NUVOM_E_CLIENT_CLOSED', `the client was closed while result() waited for job "${id}"; the job goes on in the queue: read it later with getJob() from an open client`);
        const rec = await this.readWithin(id, deadline, opts.timeoutSecs);
        if (!rec) throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${id}"`);
        if (rec.status === 'SUCCESS') return rec.result ?? undefined;
        if (rec.status === 'FAILED') throw toError(rec.error ?? { name: 'Error', message: 'the job failed', stack: null }, id);
        if (rec.status === 'CANCELLED') throw new NuvomError('NUVOM_E_JOB_CANCELLED', `job "${id}" (task "${rec.taskName}") was cancelled`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new NuvomError('NUVOM_E_RESULT_TIMEOUT', `job "${id}" (task "${rec.taskName}") is still ${rec.status} after ${opts.timeoutSecs}s; ${stillWhy(rec)}`);
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(delay, left));
          wake = () => { clearTimeout(t); resolve(); };
        });
        wake = null;
        delay = Math.min(delay * 2, 100);
      }
    } finally {
      this.waiting.delete(ended);
      offFinal?.();
      for (const h of [hooks.jobSucceeded, hooks.jobFailed, hooks.jobCancelled]) untap(h, name);
    }
  }

  async retryJob(id: string): Promise<JobRecord> {
    const rec = await this.d.resultStore.getFull(id);
    if (!rec) throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${id}"`);
    if (rec.status !== 'FAILED' && rec.status !== 'CANCELLED') {
      const why = rec.status === 'SUCCESS' ? 'it succeeded; only FAILED or CANCELLED jobs are retried' : `it is ${rec.status} and will run (or is running); only FAILED or CANCELLED jobs are retried`;
      throw new NuvomError('NUVOM_E_JOB_STATE', `job "${id}" was not retried: ${why}`);
    }
    const ref = this.d.registry.get(rec.taskName);
    const taskOptions: TaskOptionsSnapshot = ref?.options ?? { retries: rec.maxRetries, timeoutSecs: rec.timeoutSecs, timeoutPolicy: rec.timeoutPolicy, tags: rec.tags };
    await this.d.queue.cancel(id); // a CANCELLED job may still sit in the queue if cancel raced a claim
    const [h] = await this.enqueue([{ taskName: rec.taskName, taskOptions, call: { args: rec.args, id, priority: rec.priority } }]);
    return (await this.getJob(h.id))!;
  }

  async cancelJob(id: string): Promise<'cancelled' | 'signalled'> {
    const rec = await this.d.resultStore.getFull(id);
    if (!rec) throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${id}"`);
    if (FINAL_STATUSES.includes(rec.status)) {
      throw new NuvomError('NUVOM_E_JOB_STATE', `job "${id}" is already ${rec.status}; only PENDING, RETRYING or RUNNING jobs can be cancelled`);
    }
    const outcome = await this.d.queue.cancel(id);
    if (outcome === 'signalled') return 'signalled';
    // The queue's cancel is the compare-and-set: 'removed' means no worker holds the job, so nothing
    // else writes its record; 'absent' means it left the queue, and every outcome is stored before a
    // job leaves it (ack, fail). Either way the record is read again, after the queue's answer, so a
    // job that finished meanwhile keeps its final status, and a CANCELLED record keeps what the
    // attempts before wrote (attempts, last error).
    const now = this.d.clock.now();
    const fresh = (await this.d.resultStore.getFull(id)) ?? rec;
    if (FINAL_STATUSES.includes(fresh.status)) {
      throw new NuvomError('NUVOM_E_JOB_STATE', `job "${id}" is already ${fresh.status} (it finished while the cancel was on its way); only PENDING, RETRYING or RUNNING jobs can be cancelled`);
    }
    await this.d.resultStore.put({ ...fresh, status: 'CANCELLED', completedAt: new Date(now).toISOString(), nextRunAt: null });
    this.d.bus.emit('jobCancelled', { jobId: id, taskName: fresh.taskName, attempt: fresh.attempts, at: now, phase: 'queued' });
    return 'cancelled';
  }
}
