/**
 * The worker pool's main thread: claims batches under a lease, hands jobs to threads (up to
 * `concurrency` per thread), renews leases, enforces timeouts (abort, then terminate the thread after
 * a grace period and start a fresh one), hands outcomes to the recorder (outcomes.ts), and drains on stop.
 * Must never: run user code on the main thread; renew leases from a job's thread.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  NuvomError, attemptOf, errorOf, messageOf, recordOf,
  type ClaimedJob, type HookBus, type JobError, type JobRecord, type JobStore, type Logger, type NuvomConfig, type Queue,
  type RegistryService, type ResultStore, type RunningWorker, type Serializer, type StorageEvent, type WorkerOptions,
} from '../../sdk/plugin.ts';
import { listened, OutcomeRecorder, type Outcome } from './outcomes.ts';
import type { FromThread, RunMessage } from './protocol.ts';
import { Thread } from './threads.ts';

/** The deepest code in an error's cause chain that is not nuvom's own (SQLITE_FULL, ENOSPC), else nuvom's. */
function rootCode(err: unknown): string | undefined {
  let code: string | undefined;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && (!code || !c.startsWith('NUVOM_E_'))) code = c;
  }
  return code;
}

export interface PoolDeps {
  config: NuvomConfig;
  queue: Queue;
  resultStore: ResultStore;
  /** Claims (with their RUNNING records) and outcomes are written through it (see JobStore). */
  store: JobStore;
  serializer: Serializer;
  registry: RegistryService;
  bus: HookBus;
  logger: Logger;
}

export interface PoolOptions extends WorkerOptions {
  /** Time between aborting a timed-out job's signal and terminating its thread. */
  graceMs?: number;
  memoryLimitMb?: number;
  /** Idle poll when the queue offers no change notifications. */
  pollMs?: number;
}

interface Inflight {
  job: ClaimedJob;
  args: unknown[];
  moduleUrl: string;
  exportName: string | null;
  thread: Thread;
  /** Sent ahead: waits in the thread's backlog (not started, no timer) until a slot frees. */
  queued?: boolean;
  /** Its outcome is already written (cancelled while queued): whatever the thread reports is ignored. */
  finalized?: boolean;
  startedAt: number;
  timer?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
  /** Why the job was aborted, if it was. */
  aborted?: 'timeout' | 'cancel' | 'shutdown';
  /** Another worker may hold the job now: this attempt's outcome must not be written. */
  lost?: boolean;
}

interface Buffered {
  job: ClaimedJob;
  args: unknown[];
  moduleUrl: string;
  exportName: string | null;
}

/**
 * Deliveries allowed beyond a job's attempts for runs that never finished (a worker SIGKILLed, a
 * thread that died with other jobs): enough to ride out crashes, few enough that a job that kills
 * whatever runs it does not loop forever.
 */
const EXTRA_DELIVERIES = 3;

/**
 * How often a worker with jobs in hand looks for cancel requests with the queue's cheap read
 * (`cancelRequested`), besides each change notification: a cancel reaches a running job within about
 * this long even where notifications are lost (fs.watch on network filesystems), without waiting for
 * a lease renewal (a third of the visibility timeout).
 */
const CANCEL_POLL_MS = 500;
/** Change notifications come with every commit under load: cancel checks are at most this frequent. */
const CANCEL_CHECK_MIN_MS = 100;


export class WorkerPool implements RunningWorker {
  readonly id: string;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly threads: Thread[] = [];
  private readonly inflight = new Map<string, Inflight>();
  /** Claimed, recorded RUNNING, waiting for a free slot. */
  private readonly buffer: Buffered[] = [];
  /** The last claim came back short: do not claim again until new work is signalled or a poll is due. */
  private dry = false;
  private newWork = false;
  private stopping = false;
  private wakeLoop: (() => void) | null = null;
  private renewTimer?: NodeJS.Timeout;
  private statsTimer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private readonly releasing = new Set<Promise<unknown>>();
  /** Jobs given back after a thread they shared died: each runs alone until it settles here. */
  private readonly suspects = new Set<string>();
  private readonly counters = { done: 0, failed: 0 };
  /** The latest runAt of a retry this worker scheduled: a burst run waits for its own retries. */
  private retriesUntil = 0;
  /** A storage call failed since the last write that worked (see storageFailed). */
  private storageFailing = false;
  private cancelTimer?: NodeJS.Timeout;
  /** A cancel check is running, or one is due (coalesced: at most one per CANCEL_CHECK_MIN_MS). */
  private cancelCheck: 'idle' | 'running' | 'due' = 'idle';
  private lastCancelCheck = 0;
  private readonly outcomes: OutcomeRecorder;
  private readonly leaseMs: number;
  private readonly nThreads: number;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly graceMs: number;
  /** A lease this close to its end is checked with the queue before an outcome is written. */
  private readonly leaseMarginMs: number;

  constructor(private readonly d: PoolDeps, private readonly opts: PoolOptions = {}) {
    this.id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.outcomes = new OutcomeRecorder(d, this.id, this.counters, (retryAt) => {
      if (retryAt !== undefined) this.retriesUntil = Math.max(this.retriesUntil, retryAt);
      this.wake();
    }, (err) => (err === null ? this.storageWorked('record') : this.storageFailed('record', err)));
    this.done = new Promise((r) => { this.resolveDone = r; });
    this.nThreads = opts.threads ?? d.config.maxWorkers;
    this.concurrency = opts.concurrency ?? d.config.concurrency;
    this.batchSize = opts.batchSize ?? d.config.batchSize;
    this.graceMs = opts.graceMs ?? 1000;
    this.leaseMs = d.config.visibilityTimeoutSecs * 1000;
    this.leaseMarginMs = Math.min(2000, this.leaseMs / 5);
    for (const [k, v] of Object.entries({ threads: this.nThreads, concurrency: this.concurrency, batchSize: this.batchSize })) {
      if (!Number.isInteger(v) || v < 1) throw new NuvomError('NUVOM_E_CONFIG', `worker option ${k} must be a whole number >= 1, got ${v}`);
    }
  }

  async start(): Promise<this> {
    for (let i = 0; i < this.nThreads; i++) this.spawn();
    this.unsubscribe = this.d.queue.subscribe?.(() => {
      this.newWork = true;
      this.wake();
      // A change may be a cancel request for a job this worker holds: look now, not at the next renewal.
      if (this.inflight.size || this.buffer.length) this.checkCancels();
    });
    this.renewTimer = setInterval(() => void this.renew(), Math.max(20, this.leaseMs / 3));
    if (this.d.queue.cancelRequested) {
      this.cancelTimer = setInterval(() => { if (this.inflight.size || this.buffer.length) this.checkCancels(); }, CANCEL_POLL_MS);
      this.cancelTimer.unref();
    }
    this.statsTimer = setInterval(() => {
      if (listened(this.d.bus.hooks.poolStats)) this.d.bus.emit('poolStats', { workerId: this.id, at: Date.now(), ...this.stats() });
    }, 1000);
    this.statsTimer.unref();
    this.d.bus.emit('workerStarted', { workerId: this.id, at: Date.now(), threads: this.nThreads, concurrency: this.concurrency });
    void this.loop().catch((err) => {
      this.d.logger.error(`worker loop stopped: ${messageOf(err)}`, { code: (err as NuvomError).code });
      void this.stop({ force: true });
    });
    return this;
  }

  stats() {
    const live = this.threads.filter((t) => !t.retiring && !t.doomed);
    const busyThreads = live.filter((t) => t.jobs.size > 0).length;
    return { threads: live.length, busyThreads, running: this.inflight.size - this.queuedCount(), ...this.counters };
  }

  private spawn(): Thread {
    const thread: Thread = new Thread({
      memoryLimitMb: this.opts.memoryLimitMb,
      onMessage: (m) => this.onThreadMessage(thread, m),
      onExit: (code) => this.onThreadExit(thread, code),
    });
    this.threads.push(thread);
    this.d.bus.emit('threadStarted', { workerId: this.id, threadId: thread.threadId, at: Date.now() });
    return thread;
  }

  private wake(): void {
    const w = this.wakeLoop;
    this.wakeLoop = null;
    w?.();
  }

  /** Jobs sent ahead into threads' backlogs. */
  private queuedCount(): number {
    let n = 0;
    for (const t of this.threads) n += t.queued.length;
    return n;
  }

  private capacity(): number {
    return this.threads.reduce((n, t) => n + (t.open ? Math.max(0, this.concurrency - t.jobs.size) : 0), 0);
  }

  /**
   * Claims ahead of the free slots (up to `batchSize` jobs wait in a local buffer, under their leases,
   * renewed like running ones) so that a finished job is replaced from memory at once and claims stay
   * batched: one claim transaction and one RUNNING write per batch, not per job.
   */
  private async loop(): Promise<void> {
    const poll = this.opts.pollMs ?? (this.d.queue.subscribe ? 1000 : 50);
    const lowWater = Math.max(1, Math.ceil(this.batchSize / 2));
    let backoffMs = 0;
    while (!this.stopping) {
      try {
        if (await this.step(poll, lowWater)) break;
        backoffMs = 0;
      } catch (err) {
        // A storage error (SQLITE_BUSY past its retries, a full disk) must not end the worker: the
        // jobs it holds come back when their leases expire, and the next claim may well succeed.
        backoffMs = Math.min(5000, Math.max(100, backoffMs * 2));
        this.storageFailed('claim', err);
        this.d.logger.warn(`claiming jobs failed: ${messageOf(err)}; trying again in ${backoffMs} ms`, { code: (err as NuvomError).code });
        await this.sleep(backoffMs);
      }
    }
    if (!this.stopping) await this.stop();
  }

  /** One round of the loop: dispatch, claim if worth it, else wait. Resolves true when a burst run is done. */
  private async step(poll: number, lowWater: number): Promise<boolean> {
    {
      this.dispatch();
      const free = this.capacity();
      // Jobs in a thread's backlog are claimed ahead too: together with the buffer, at most batchSize.
      const ahead = this.buffer.length + this.queuedCount();
      const deficit = free + this.batchSize - ahead;
      const worthIt = deficit >= lowWater || (ahead === 0 && free > 0);
      if (worthIt && (!this.dry || this.newWork)) {
        this.newWork = false;
        const jobs = await this.d.store.claim({ max: deficit, workerId: this.id, leaseMs: this.leaseMs });
        this.dry = jobs.length < deficit;
        if (jobs.length) { this.storageWorked('claim'); await this.prepareOrGiveBack(jobs); return false; }
      }
      if (this.dry && this.opts.burst && this.buffer.length === 0 && this.inflight.size === 0 && Date.now() >= this.retriesUntil) {
        await this.outcomes.flush();
        // An outcome still being written may be a retry this run must wait for: look again after it.
        if (this.releasing.size) { await Promise.all(this.releasing); return false; }
        // Nothing claimable now ends a burst run: jobs delayed into the future (runAt ahead, a retry
        // of another worker's) are not this run's work; retries this worker scheduled are (above).
        if ((await this.d.queue.counts()).ready === 0) return true;
      }
      let wait = poll;
      if (this.dry) {
        const next = await this.d.queue.nextRunAt();
        if (next !== null) wait = Math.max(1, Math.min(poll, next - Date.now()));
        if (this.opts.burst && this.retriesUntil > Date.now()) wait = Math.max(1, Math.min(wait, this.retriesUntil - Date.now()));
      }
      if (await this.sleep(wait)) this.dry = false;
      return false;
    }
  }

  /** Tells the storageError observers (doctor's last-error record) what failed, with its root code. */
  private storageFailed(op: StorageEvent['op'], err: unknown): void {
    this.storageFailing = true;
    if (listened(this.d.bus.hooks.storageError)) this.d.bus.emit('storageError', { workerId: this.id, at: Date.now(), op, code: rootCode(err), message: messageOf(err) });
  }

  /** A write worked (a claim that took jobs, a committed outcome batch): once after failures. */
  private storageWorked(op: StorageEvent['op']): void {
    if (!this.storageFailing) return;
    this.storageFailing = false;
    this.d.bus.emit('storageRecovered', { workerId: this.id, at: Date.now(), op });
  }

  /** Resolves true when the time ran out, false when woken (a slot freed, new work). */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wakeLoop = null; resolve(true); }, ms);
      this.wakeLoop = () => { clearTimeout(t); resolve(false); };
    });
  }

  /**
   * The claim is committed (attempts counted, leases taken): any error from here on gives back every
   * job of it not yet settled or buffered, its attempt taken back (`queue.release`), so that a failed
   * RUNNING write does not leave them to expire, come back, and hit the delivery cap without running.
   */
  private async prepareOrGiveBack(jobs: ClaimedJob[]): Promise<void> {
    const handled = new Set<string>();
    try {
      await this.prepare(jobs, handled);
    } catch (err) {
      const back = jobs.filter((j) => !handled.has(j.id));
      const done = Promise.all(back.map((j) => this.d.queue.release(j.id, this.id).catch((e) => {
        this.d.logger.error(`could not give job ${j.id} back to the queue: ${messageOf(e)}; it comes back when its lease expires`);
      })));
      this.track(done);
      await done;
      throw new NuvomError('NUVOM_E_STORAGE', `${messageOf(err)} (after claiming ${jobs.length} job(s): ${back.length} given back to the queue, no attempt spent)`, { cause: err });
    }
  }

  /**
   * Decodes claimed jobs, fails those that cannot run here, records the rest RUNNING and buffers them.
   * `handled` collects the ids whose outcome is written or that reached the buffer.
   */
  private async prepare(jobs: ClaimedJob[], handled: Set<string>): Promise<void> {
    const now = Date.now();
    const ready: Buffered[] = [];
    for (const job of jobs) {
      // The queue says this claim follows a lease that ran out (a worker died, hung or lost it).
      if (job.redelivered && listened(this.d.bus.hooks.jobRedelivered)) {
        this.d.bus.emit('jobRedelivered', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: this.id });
      }
      if (job.attempts > job.options.maxRetries + 1 + EXTRA_DELIVERIES) {
        const failed = { ...job, options: { ...job.options, maxRetries: 0 } };
        const message = `the job was delivered ${job.attempts} times, past its ${job.options.maxRetries + 1} attempt(s) and ${EXTRA_DELIVERIES} more for crashed workers; its last runs never finished (each ended its worker, its thread, or lost its lease): fix the task, then retry the job`;
        await this.outcomes.finalize(failed, [], { ok: false, kind: 'error', error: { name: 'NuvomError', message, stack: null } }, now, true);
        handled.add(job.id);
        continue;
      }
      if (job.damaged) {
        const failed = { ...job, options: { ...job.options, maxRetries: 0 } };
        await this.outcomes.finalize(failed, [], { ok: false, kind: 'error', error: { name: 'NuvomError', message: `the stored job is damaged and cannot run: ${job.damaged}`, stack: null } }, now, true);
        handled.add(job.id);
        continue;
      }
      let args: unknown[];
      try {
        const decoded = this.d.serializer.decode(job.args);
        if (!Array.isArray(decoded)) throw new Error('stored arguments are not a list');
        args = decoded;
      } catch (err) {
        await this.outcomes.finalize(job, [], { ok: false, kind: 'error', error: { name: 'NuvomError', message: `could not decode the job's arguments: ${messageOf(err)}`, stack: null } }, now, true);
        handled.add(job.id);
        continue;
      }
      const ref = this.d.registry.get(job.taskName);
      if (!ref || !ref.moduleUrl) {
        const message = `task "${job.taskName}" is unknown to this worker${ref ? ' (its module is not known)' : ''}; define it in an imported module or run \`nuvom discover tasks\` and restart the worker`;
        await this.outcomes.finalize(job, args, { ok: false, kind: 'error', error: { name: 'NuvomError', message, stack: null } }, now, true);
        handled.add(job.id);
        continue;
      }
      ready.push({ job, args, moduleUrl: ref.moduleUrl, exportName: ref.exportName });
      if (listened(this.d.bus.hooks.jobClaimed)) this.d.bus.emit('jobClaimed', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: this.id });
    }
    // The claim wrote the RUNNING records (JobStore.claim).
    for (const b of ready) handled.add(b.job.id);
    this.buffer.push(...ready);
    this.dispatch();
  }

  /**
   * Hands buffered jobs to threads with free slots: one message per thread per call. Where a single
   * thread is open (so no other could start a job sooner), it also gets jobs beyond its free slots,
   * into its backlog: refilled when it runs low, so that a message carries tens of jobs rather than
   * the few that just finished. They start there as slots free, which the pool follows (promote).
   */
  private dispatch(): void {
    const batches = new Map<Thread, RunMessage[]>();
    let open = 0;
    for (const t of this.threads) if (t.open) open++;
    let topping: Thread | null = null;
    while (this.buffer.length && !this.stopping) {
      const suspect = this.suspects.has(this.buffer[0].job.id);
      const thread = this.pickThread(suspect);
      if (!thread) break;
      const queue = thread.jobs.size >= this.concurrency || thread.queued.length > 0;
      if (queue) {
        if (suspect || open !== 1 || !thread.ready || thread.solo || thread.recalling || thread.queued.length >= this.batchSize) break;
        if (topping !== thread) {
          if (thread.queued.length > this.concurrency) break;
          topping = thread;
        }
      }
      const { job, args, moduleUrl, exportName } = this.buffer.shift()!;
      if (suspect) thread.solo = true;
      const entry: Inflight = { job, args, moduleUrl, exportName, thread, startedAt: Date.now() };
      this.inflight.set(job.id, entry);
      let batch = batches.get(thread);
      if (!batch) batches.set(thread, (batch = []));
      batch.push({ id: job.id, taskName: job.taskName, moduleUrl, exportName, args, attempt: job.attempts });
      if (queue) {
        entry.queued = true;
        thread.queued.push(job.id);
      } else {
        thread.jobs.add(job.id);
        this.started(entry);
      }
    }
    for (const [thread, runs] of batches) thread.send({ t: 'run', runs, limit: this.concurrency });
  }

  /** A job took a slot of its thread: its timer starts (once the thread is ready) and jobStarted fires. */
  private started(entry: Inflight): void {
    const { job, thread } = entry;
    // A fresh thread's start-up (loading the TS loader and the runner) is not the job's time.
    if (thread.ready) this.startTimer(entry);
    if (listened(this.d.bus.hooks.jobStarted)) {
      this.d.bus.emit('jobStarted', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: entry.startedAt, workerId: this.id, threadId: thread.threadId, waitMs: Math.max(0, entry.startedAt - job.runAt) });
    }
  }

  /**
   * The thread started backlog jobs in the slots its last outcomes freed (it does so right after
   * posting them, in order): the pool moves as many from `queued` to `jobs`.
   */
  private promote(thread: Thread): void {
    while (thread.queued.length && thread.jobs.size < this.concurrency) {
      const entry = this.inflight.get(thread.queued.shift()!)!;
      entry.queued = false;
      entry.startedAt = Date.now();
      thread.jobs.add(entry.job.id);
      this.started(entry);
      if (entry.aborted) this.armGrace(entry);
    }
  }

  /** Asks a thread for its backlog back (a reload, a stop): see the 'recalled' message. */
  private recall(thread: Thread): void {
    if (!thread.queued.length || thread.recalling || thread.exited) return;
    thread.recalling = true;
    thread.send({ t: 'recall' });
  }

  /** Jobs a thread gave back unstarted (recalled, or its thread ended): to the buffer, or the queue when stopping. */
  private unqueue(entries: Inflight[]): void {
    const back: Buffered[] = [];
    for (const e of entries) {
      this.untrack(e);
      if (e.finalized || e.lost) continue;
      if (this.stopping) this.releaseJob(e.job, e.args, false);
      else back.push({ job: e.job, args: e.args, moduleUrl: e.moduleUrl, exportName: e.exportName });
    }
    if (back.length) {
      this.buffer.unshift(...back);
      this.wake();
    }
  }

  private startTimer(entry: Inflight): void {
    entry.startedAt = Date.now();
    entry.timer = setTimeout(() => this.abort(entry, 'timeout'), entry.job.options.timeoutSecs * 1000);
  }

  /** The least busy open thread; a suspect runs alone, and nothing joins a thread running one. */
  private pickThread(alone = false): Thread | null {
    let best: Thread | null = null;
    for (const t of this.threads) {
      if (!t.open || (t.solo && t.jobs.size > 0) || (alone && (t.jobs.size > 0 || t.queued.length > 0))) continue;
      if (!best || t.jobs.size + t.queued.length < best.jobs.size + best.queued.length) best = t;
    }
    return best;
  }

  /**
   * Loads task modules afresh (dev mode): new threads take new jobs at once, while the old threads
   * finish the jobs they run and then end. An ES module cannot be unloaded from a thread, so a
   * reload is a thread swap; no running job is dropped.
   */
  async reload(): Promise<void> {
    const old = this.threads.filter((t) => !t.retiring && !t.exited);
    for (const t of old) t.retiring = true;
    for (let i = 0; i < this.nThreads; i++) this.spawn();
    for (const t of old) {
      if (t.jobs.size === 0 && t.queued.length === 0) void t.terminate();
      else this.recall(t);
    }
    this.wake();
  }

  private abort(entry: Inflight, reason: 'timeout' | 'cancel' | 'shutdown'): void {
    if (entry.aborted || !this.inflight.has(entry.job.id)) return;
    entry.aborted = reason;
    if (reason === 'timeout') {
      this.d.bus.emit('jobTimedOut', { jobId: entry.job.id, taskName: entry.job.taskName, attempt: entry.job.attempts, at: Date.now(), workerId: this.id, runMs: Date.now() - entry.startedAt });
    }
    // A timeout that fails or retries the job is an error the task's onError hook hears of, fired in
    // the thread now, within the grace period before the thread may be ended (docs/workers.md).
    const onError = reason === 'timeout' && entry.job.options.timeoutPolicy !== 'ignore' ? { onError: true as const } : {};
    entry.thread.send({ t: 'abort', id: entry.job.id, reason, ...onError });
    if (entry.queued) {
      // Not started: cancelled at once, as from the buffer; the thread drops it from its backlog
      // (or, had it just started it, aborts it) and its report is then ignored.
      if (reason === 'cancel') {
        entry.finalized = true;
        void this.outcomes.finalize(entry.job, entry.args, { ok: false, kind: 'cancel', error: { name: 'AbortError', message: 'the job was cancelled before it started', stack: null } }, Date.now(), true);
      }
      return;
    }
    this.armGrace(entry);
  }

  private armGrace(entry: Inflight): void {
    const reason = entry.aborted;
    if (!reason || entry.grace) return;
    // The signal is a request; a task that ignores it (a CPU loop) is stopped by ending its thread.
    entry.grace = setTimeout(() => {
      if (this.inflight.get(entry.job.id) === entry) void this.replaceThread(entry.thread, `job ${entry.job.id} did not stop within ${this.graceMs} ms of its ${reason}`);
    }, this.graceMs);
  }

  private onThreadMessage(thread: Thread, m: FromThread): void {
    if (m.t === 'done') {
      for (const o of m.outcomes) {
        const entry = this.inflight.get(o.id);
        if (!entry || entry.thread !== thread) continue;
        if (entry.queued) {
          // Dropped from the backlog, or it ran in a slot that freed before the pool knew of it.
          if (!o.ok && o.dropped) { this.unqueue([entry]); continue; }
          thread.queued.splice(thread.queued.indexOf(o.id), 1);
          entry.queued = false;
          entry.startedAt = Date.now();
          thread.jobs.add(o.id);
          this.started(entry);
        }
        if (entry.finalized) { this.untrack(entry); continue; }
        this.settle(entry, o.ok ? { ok: true, result: o.result } : { ok: false, kind: 'error', error: o.error });
      }
      this.promote(thread);
    } else if (m.t === 'recalled') {
      thread.recalling = false;
      const back: Inflight[] = [];
      for (const id of m.ids) {
        const entry = this.inflight.get(id);
        if (entry && entry.thread === thread && entry.queued) back.push(entry);
      }
      this.unqueue(back);
    } else if (m.t === 'ready') {
      thread.ready = true;
      for (const id of thread.jobs) {
        const entry = this.inflight.get(id);
        if (entry && !entry.timer) this.startTimer(entry);
      }
    } else if (m.t === 'log') {
      this.d.logger[m.level](`[thread ${thread.threadId}] ${m.message}`);
    }
  }

  private onThreadExit(thread: Thread, code: number): void {
    const i = this.threads.indexOf(thread);
    if (i >= 0) this.threads.splice(i, 1);
    const reason = thread.lastError ? `${thread.lastError.name}: ${thread.lastError.message}` : `exit code ${code}`;
    this.d.bus.emit('threadStopped', { workerId: this.id, threadId: thread.threadId, at: Date.now(), reason });
    // Its backlog never started: back to the buffer (or the queue, when stopping), not suspects.
    this.unqueue(thread.queued.map((id) => this.inflight.get(id)!).filter((e) => e && e.thread === thread));
    const shared = [...thread.jobs].filter((id) => !this.inflight.get(id)?.aborted).length > 1;
    if (shared) this.d.logger.warn(`worker thread ${thread.threadId} died (${reason}) running ${thread.jobs.size} jobs; they go back to the queue`);
    for (const id of [...thread.jobs]) {
      const entry = this.inflight.get(id);
      if (!entry) continue;
      if (entry.aborted) {
        this.settle(entry, { ok: false, kind: entry.aborted === 'cancel' ? 'cancel' : entry.aborted === 'timeout' ? 'timeout' : 'crash', error: this.abortError(entry) });
      } else if (shared) {
        // Several jobs shared the thread and nothing tells which one ended it: all go back to the
        // queue (the attempt counts) as suspects, which this pool then runs each alone in a thread,
        // so the culprit fails by itself. Elsewhere, the delivery cap (see prepare) bounds it.
        this.suspects.add(id);
        this.release(entry);
      } else {
        this.settle(entry, { ok: false, kind: 'crash', error: { name: 'NuvomError', message: `the worker thread running this job died (${reason}); if the task calls process.exit or exhausts memory, fix the task`, stack: null } });
      }
    }
    if (!this.stopping && !thread.retiring) {
      const fresh = this.spawn();
      this.d.bus.emit('threadReplaced', { workerId: this.id, threadId: fresh.threadId, at: Date.now(), reason });
      this.wake();
    }
  }

  private async replaceThread(thread: Thread, why: string): Promise<void> {
    this.d.logger.warn(`terminating worker thread ${thread.threadId}: ${why}`);
    // No new job may land on a thread that is about to end (the released neighbours below included).
    thread.doomed = true;
    // Jobs sharing the thread with the runaway are innocent: give them back to the queue first.
    for (const id of [...thread.jobs]) {
      const entry = this.inflight.get(id);
      if (entry && !entry.aborted) {
        this.release(entry);
      }
    }
    await thread.terminate();
  }

  /** Returns a job to the queue at once without counting a failure (thread replaced, shutdown). */
  private release(entry: Inflight): void {
    this.untrack(entry);
    this.releaseJob(entry.job, entry.args);
  }

  /**
   * `started`: the attempt ran (part of it), so it counts; a job claimed ahead and never started is
   * released with its claim's attempt taken back, so a graceful restart costs no retry.
   */
  private releaseJob(job: ClaimedJob, args: unknown[], started = true): void {
    const attempts = started ? job.attempts : Math.max(0, job.attempts - 1);
    const done = this.holds(job)
      .then(async (held) => {
        if (!held) return;
        // A started attempt ends INTERRUPTED; one never started leaves no entry (its claim is taken back).
        const history = started ? [attemptOf(job.attempts, 'INTERRUPTED', null, Date.now(), this.id)] : [];
        await this.d.resultStore.put(recordOf(job, args, { status: 'PENDING', attempts, history }));
        if (started) await this.d.queue.retry(job.id, this.id, Date.now());
        else await this.d.queue.release(job.id, this.id);
      })
      .catch((err) => this.d.logger.error(`could not return job ${job.id} to the queue: ${messageOf(err)}; it comes back when its lease expires`));
    this.track(done);
  }

  /**
   * Whether this worker still holds the job's lease, so that its writes cannot overwrite the outcome
   * of a worker that took the job over (this process was paused, or starved, past the lease). Known
   * without a query while the lease has time left; near or past its end, a renewal decides.
   */
  private async holds(job: ClaimedJob): Promise<boolean> {
    const t = Date.now();
    if (t < job.leaseExpiresAt - this.leaseMarginMs) return true;
    const { held } = await this.d.queue.renew([job.id], this.id, this.leaseMs);
    if (held.includes(job.id)) {
      job.leaseExpiresAt = t + this.leaseMs;
      return true;
    }
    this.d.logger.warn(`lost the lease of job ${job.id} (attempt ${job.attempts}); its outcome here is discarded, since another worker may run it`);
    return false;
  }

  /** Keeps a storage write in flight visible to stop(), which waits for all of them. */
  private track(p: Promise<unknown>): void {
    this.releasing.add(p);
    void p.finally(() => this.releasing.delete(p));
  }

  private abortError(entry: Inflight): JobError {
    const s = entry.job.options.timeoutSecs;
    if (entry.aborted === 'timeout') return { name: 'TimeoutError', message: `job ran past its timeout of ${s}s (task "${entry.job.taskName}")`, stack: null };
    if (entry.aborted === 'cancel') return { name: 'AbortError', message: 'the job was cancelled while running', stack: null };
    return { name: 'AbortError', message: 'the worker shut down while the job ran', stack: null };
  }

  private untrack(entry: Inflight): void {
    if (entry.thread.solo) {
      entry.thread.solo = false;
      this.suspects.delete(entry.job.id);
    }
    clearTimeout(entry.timer);
    clearTimeout(entry.grace);
    this.inflight.delete(entry.job.id);
    const t = entry.thread;
    if (entry.queued) {
      const i = t.queued.indexOf(entry.job.id);
      if (i >= 0) t.queued.splice(i, 1);
      entry.queued = false;
    } else {
      t.jobs.delete(entry.job.id);
    }
    if (t.retiring && t.jobs.size === 0 && t.queued.length === 0) void t.terminate();
    this.wake();
  }

  private settle(entry: Inflight, outcome: Outcome): void {
    if (!this.inflight.has(entry.job.id)) return;
    this.untrack(entry);
    // A job asked to stop for a shutdown that finished anyway keeps its success; one that stopped goes back.
    if (entry.aborted === 'shutdown' && !outcome.ok) { this.releaseJob(entry.job, entry.args); return; }
    if (entry.aborted === 'shutdown') entry.aborted = undefined;
    if (entry.aborted) outcome = { ok: false, kind: entry.aborted === 'cancel' ? 'cancel' : 'timeout', error: this.abortError(entry) };
    if (entry.lost) return;
    const leased = Date.now() < entry.job.leaseExpiresAt - this.leaseMarginMs;
    // The common case, a success under a lease with time left, is recorded synchronously: no promise.
    if (leased && outcome.ok) {
      try {
        if (this.outcomes.succeed(entry.job, entry.args, outcome.result, entry.startedAt, false, entry.thread.threadId) === null) return;
      } catch (err) {
        this.d.logger.error(`could not record the outcome of job ${entry.job.id}: ${messageOf(err)}; it will be delivered again when its lease expires`);
        return;
      }
    }
    const record = () => this.outcomes.finalize(entry.job, entry.args, outcome, entry.startedAt, false, entry.thread.threadId);
    const write = leased
      ? record()
      : this.holds(entry.job).then((held) => (held ? record() : undefined));
    this.track(write.catch((err) => {
      this.d.logger.error(`could not record the outcome of job ${entry.job.id}: ${messageOf(err)}; it will be delivered again when its lease expires`);
    }));
  }

  /** Waits until every finished job is recorded and acked. */
  flush(): Promise<void> {
    return this.outcomes.flush();
  }

  private async renew(): Promise<void> {
    const ids = [...this.inflight.keys(), ...this.buffer.map((b) => b.job.id)];
    if (!ids.length) return;
    try {
      const t = Date.now();
      const { held, cancelled } = await this.d.queue.renew(ids, this.id, this.leaseMs);
      const heldSet = new Set(held);
      for (const id of ids) {
        const e = this.inflight.get(id);
        const i = e ? -1 : this.buffer.findIndex((b) => b.job.id === id);
        const job = e?.job ?? this.buffer[i]?.job;
        if (!job) continue; // finished while the renewal ran
        if (heldSet.has(id)) { job.leaseExpiresAt = t + this.leaseMs; continue; }
        this.d.logger.warn(`lost the lease of job ${id} (attempt ${job.attempts}); another worker may run it, so this worker drops it and discards its outcome`);
        if (e) {
          e.lost = true;
          e.thread.send({ t: 'abort', id, reason: 'cancel' });
        } else if (i >= 0) {
          this.buffer.splice(i, 1);
        }
      }
      this.cancelled(cancelled);
    } catch (err) {
      this.storageFailed('renew', err);
      this.d.logger.warn(`lease renewal failed: ${messageOf(err)}; retrying`);
    }
  }

  /** Aborts running jobs whose cancel was requested; cancels buffered ones at once. */
  private cancelled(ids: readonly string[]): void {
    for (const id of ids) {
      const e = this.inflight.get(id);
      if (e) { this.abort(e, 'cancel'); continue; }
      const i = this.buffer.findIndex((b) => b.job.id === id);
      if (i >= 0) {
        const [b] = this.buffer.splice(i, 1);
        const write = this.outcomes.finalize(b.job, b.args, { ok: false, kind: 'cancel', error: { name: 'AbortError', message: 'the job was cancelled before it started', stack: null } }, Date.now(), true);
        this.track(write.catch((err) => this.d.logger.error(`could not record the cancel of job ${id}: ${messageOf(err)}`)));
      }
    }
  }

  /**
   * Looks for cancel requests among the jobs this worker holds, coalesced (one at a time, at most one
   * per CANCEL_CHECK_MIN_MS). With the queue's read-only `cancelRequested`; a queue without it is
   * asked through a lease renewal, which reports cancels too.
   */
  private checkCancels(): void {
    if (this.stopping) return;
    if (this.cancelCheck !== 'idle') { this.cancelCheck = 'due'; return; }
    // A renewal is a write: a queue without the read is asked at most once a second.
    const wait = this.lastCancelCheck + (this.d.queue.cancelRequested ? CANCEL_CHECK_MIN_MS : 1000) - Date.now();
    this.cancelCheck = 'running';
    const run = async () => {
      this.lastCancelCheck = Date.now();
      try {
        const q = this.d.queue;
        const ids = [...this.inflight.values()].filter((e) => !e.aborted && !e.finalized).map((e) => e.job.id).concat(this.buffer.map((b) => b.job.id));
        if (ids.length) {
          if (q.cancelRequested) this.cancelled(await q.cancelRequested(ids));
          else await this.renew();
        }
      } catch (err) {
        this.d.logger.debug(`looking for cancel requests failed: ${messageOf(err)}; the lease renewal will see them`);
      }
      const again = this.cancelCheck === 'due';
      this.cancelCheck = 'idle';
      if (again) this.checkCancels();
    };
    if (wait > 0) setTimeout(() => void run(), wait).unref();
    else void run();
  }

  /** Stops claiming, lets running jobs finish within the drain period, returns the rest to the queue. */
  async stop(opts: { force?: boolean } = {}): Promise<void> {
    if (this.stopping) {
      if (opts.force) for (const e of this.inflight.values()) if (!e.queued) this.abort(e, 'shutdown');
      return this.done;
    }
    this.stopping = true;
    this.wake();
    this.unsubscribe?.();
    // Jobs waiting in a thread's backlog have not started: they go back like the buffer's.
    for (const t of this.threads) this.recall(t);
    const drainMs = opts.force ? 0 : this.opts.drainMs ?? 10_000;
    const deadline = Date.now() + drainMs;
    while (this.inflight.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(20, deadline - Date.now())));
    for (const e of [...this.inflight.values()]) if (!e.queued) this.abort(e, 'shutdown');
    const graceEnd = Date.now() + this.graceMs;
    while (this.inflight.size && Date.now() < graceEnd) await new Promise((r) => setTimeout(r, 10));
    const left = [...this.inflight.values()];
    const running = left.filter((e) => !e.queued);
    this.unqueue(left.filter((e) => e.queued));
    for (const e of running) this.release(e);
    for (const b of this.buffer.splice(0)) this.releaseJob(b.job, b.args, false);
    clearInterval(this.renewTimer);
    clearInterval(this.statsTimer);
    clearInterval(this.cancelTimer);
    await this.outcomes.flush();
    await Promise.all(this.releasing);
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.d.bus.emit('workerStopped', { workerId: this.id, at: Date.now(), threads: this.nThreads, concurrency: this.concurrency });
    this.resolveDone();
  }
}

export { errorOf };
