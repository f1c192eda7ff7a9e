/**
 * How the pool records an attempt's outcome: SUCCESS records and acks batched into one flush (one job
 * store settle: one transaction where one plugin holds both queue and records), and the other outcomes (retry with
 * back-off, FAILED, CANCELLED) written one by one after the batch before them. Observer hooks fire
 * here, only when something listens, and only once the outcome is stored: a tap that reads the record
 * sees the final status, and a batch whose write fails fires nothing (it is logged).
 * Must never: write an outcome for a job whose lease the caller has not checked (pool.ts `holds()`),
 * let one unstorable result fail the batch it would be written with, or fire an outcome event
 * before its write has committed.
 */
import {
  attemptOf, messageOf, recordOf, valueTooBig,
  type AttemptOutcome, type ClaimedJob, type HookBus, type JobError, type JobRecord, type Logger, type Serializer,
} from '../../sdk/plugin.ts';
import { retryDelayMs } from './backoff.ts';
import { FailureLog } from './failure-log.ts';
import type { PoolStore } from './store.ts';

export type Outcome = { ok: true; result: unknown } | { ok: false; error: JobError; kind: 'error' | 'timeout' | 'crash' | 'cancel' };

export interface RecorderDeps {
  store: PoolStore;
  serializer: Serializer;
  bus: HookBus;
  logger: Logger;
}

/**
 * Whether firing the hook can be observed: a tap, or an interceptor that sees calls. The bus's own
 * interceptor (on every hook) only wraps taps as they register, so `isUsed()` is always true; this
 * lets the per-job path skip building events and calling hooks that nothing listens to.
 */
export function listened(hook: { taps: readonly unknown[]; interceptors: readonly object[] }): boolean {
  if (hook.taps.length) return true;
  for (const i of hook.interceptors as { call?: unknown; tap?: unknown; done?: unknown; result?: unknown; error?: unknown; loop?: unknown }[]) {
    if (i.call || i.tap || i.done || i.result || i.error || i.loop) return true;
  }
  return false;
}

type SucceededEvent = { jobId: string; taskName: string; attempt: number; at: number; workerId: string; runMs: number };

/**
 * A SUCCESS batch is written on the next turn of the event loop, unless jobs are still running here
 * (more outcomes are coming): then it waits until it holds FLUSH_BATCH or is FLUSH_WAIT_MS old. A
 * transaction's commit costs far more than a row (in-process, one turn ends about `concurrency`
 * jobs: 12 a transaction before this, in the profile the commits were a third of the CPU), and a lone
 * job (nothing else running) is written at once, so an idle worker's latency is unchanged.
 */
const FLUSH_BATCH = 500;
const FLUSH_WAIT_MS = 4;

export class OutcomeRecorder {
  private pendingRecords: JobRecord[] = [];
  private pendingAcks: string[] = [];
  /** jobSucceeded events of the pending batch, fired once it is committed. */
  private pendingEvents: SucceededEvent[] = [];
  private readonly failures: FailureLog;
  private flushing: Promise<void> | null = null;
  /** Starts the pending flush now (set while one waits for its turn or its batch). */
  private release: (() => void) | null = null;
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly hurry = (): void => {
    clearTimeout(this.waitTimer);
    const r = this.release;
    this.release = null;
    r?.();
  };

  constructor(
    private readonly d: RecorderDeps,
    /** The worker's id, written on records. */
    private readonly id: string,
    /** The pool's counters (done, failed), which stats() reports. */
    private readonly counters: { done: number; failed: number },
    /** Wakes the pool's loop (a retry may be due soon, at `runAt`). */
    private readonly wake: (retryAt?: number) => void,
    /** Jobs are still running here: more outcomes are on their way (see FLUSH_BATCH). */
    private readonly busy: () => boolean = () => false,
  ) {
    this.failures = new FailureLog(d.logger);
  }

  /**
   * A successful attempt: its SUCCESS record and ack join the next batched flush, and jobSucceeded
   * fires once that flush has committed. Returns null, or, writing nothing, why the result cannot be stored (finalize fails the job).
   */
  succeed(job: ClaimedJob, args: unknown[], value: unknown, startedAt: number, before = false, threadId: number | null = null): string | null {
    let result = job.options.storeResult ? value : null;
    // Every value is checked, not only objects: the JSON serializer refuses NaN and BigInt too, and a
    // result that cannot be stored must fail its own job, not the batch it would be written with.
    if (result !== null && result !== undefined) {
      let bytes: Uint8Array;
      try { bytes = this.d.serializer.encode(result); } catch (err) { return messageOf(err); }
      const big = valueTooBig(bytes, 'result');
      if (big) return big;
    }
    if (result === undefined) result = null;
    const now = Date.now();
    this.counters.done++;
    const history = [attemptOf(job.attempts, 'SUCCESS', before ? null : startedAt, now, this.id, threadId)];
    this.pendingRecords.push(recordOf(job, args, { attempts: job.attempts, startedAt: before ? null : startedAt, workerId: this.id, status: 'SUCCESS', completedAt: now, result, history }));
    this.pendingAcks.push(job.id);
    if (listened(this.d.bus.hooks.jobSucceeded)) {
      this.pendingEvents.push({ jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: this.id, runMs: before ? 0 : now - startedAt });
    }
    this.scheduleFlush();
    return null;
  }

  /** Records an attempt's outcome and tells the queue (ack, retry or fail). */
  async finalize(job: ClaimedJob, args: unknown[], outcome: Outcome, startedAt: number, before: boolean, threadId: number | null = null): Promise<void> {
    const now = Date.now();
    const ev = { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: this.id, runMs: before ? 0 : now - startedAt };
    const base = { attempts: job.attempts, startedAt: before ? null : startedAt, workerId: this.id };
    if (outcome.ok || (outcome.kind === 'timeout' && job.options.timeoutPolicy === 'ignore')) {
      const refused = this.succeed(job, args, outcome.ok ? outcome.result : null, startedAt, before, threadId);
      if (refused === null) return;
      return this.finalize(job, args, { ok: false, kind: 'error', error: { name: 'NuvomError', message: `the task's result cannot be stored: ${refused}`, stack: null } }, startedAt, before, threadId);
    }
    const error = outcome.error;
    const attempt = (ended: AttemptOutcome) => [attemptOf(job.attempts, ended, base.startedAt, now, this.id, threadId, error)];
    const ending: AttemptOutcome = outcome.kind === 'timeout' ? 'TIMED_OUT' : outcome.kind === 'crash' ? 'CRASHED' : 'FAILED';
    if (outcome.kind === 'cancel') {
      await this.flush();
      // Cancelled before it started (claimed ahead, in the buffer or a host's backlog): no attempt
      // ran, so none is counted (`attempts` counts attempts started, docs/tasks.md) and none is listed.
      const ran = before ? { attempts: Math.max(0, job.attempts - 1), history: [] } : { history: attempt('CANCELLED') };
      if (!(await this.d.store.ended(recordOf(job, args, { ...base, status: 'CANCELLED', completedAt: now, error, ...ran })))) return this.overtaken([job], 'CANCELLED');
      this.d.bus.emit('jobCancelled', { ...ev, phase: 'running' });
      return;
    }
    // attempt n failed: n - 1 retries are used, so another is allowed while n <= maxRetries
    const mayRetry = job.attempts <= job.options.maxRetries && !(outcome.kind === 'timeout' && job.options.timeoutPolicy === 'fail');
    let decision = { retry: mayRetry, delayMs: retryDelayMs(job.options, job.attempts) };
    if (this.d.bus.hooks.retryDecision.isUsed()) decision = await this.d.bus.hooks.retryDecision.promise(decision, job, error);
    await this.flush();
    if (decision.retry) {
      // Whole milliseconds (a retryDelaySecs of 0.0015, or a retryDecision tap's fraction): PostgreSQL
      // stores run times as bigint, and a fraction failed the outcome's write, the job stuck RUNNING.
      const runAt = now + Math.ceil(decision.delayMs);
      if (!(await this.d.store.retrying(recordOf(job, args, { ...base, status: 'RETRYING', nextRunAt: runAt, error, history: attempt(ending === 'FAILED' ? 'RETRIED' : ending) }), runAt))) {
        return this.overtaken([job], 'RETRYING');
      }
      this.failures.attempt({ taskName: job.taskName, jobId: job.id, attempt: job.attempts, error, next: { retry: true, delayMs: decision.delayMs } });
      this.d.bus.emit('jobRetryScheduled', { ...ev, error, nextRunAt: runAt });
      this.wake(runAt);
    } else {
      if (!(await this.d.store.ended(recordOf(job, args, { ...base, status: 'FAILED', completedAt: now, error, history: attempt(ending) })))) return this.overtaken([job], 'FAILED');
      this.counters.failed++;
      this.failures.attempt({ taskName: job.taskName, jobId: job.id, attempt: job.attempts, error, next: { retry: false } });
      this.d.bus.emit('jobFailed', { ...ev, error });
    }
  }

  /**
   * Outcomes the job store did not write because this worker no longer held the jobs (fencing):
   * another worker claimed them after their lease ran out as that worker saw it (this one was paused
   * or stalled past it between its lease check and the write, or the hosts' clocks disagree). They
   * are neither reported nor counted; one WARN line says so.
   */
  private overtaken(jobs: ReadonlyArray<{ id: string; attempts: number }>, status: string): void {
    const shown = jobs.slice(0, 5).map((j) => `${j.id} (attempt ${j.attempts})`).join(', ');
    const more = jobs.length > 5 ? `, ... (${jobs.length - 5} more)` : '';
    const one = jobs.length === 1;
    const what = one ? `the lease of job ${shown}` : `the leases of ${jobs.length} jobs (${shown}${more})`;
    this.d.logger.warn(`lost ${what} before ${one ? 'its' : 'their'} ${status} outcome was written: another worker took ${one ? 'it' : 'them'} over, so the outcome here is discarded and not reported (this worker was paused or stalled past the lease, or the hosts' clocks disagree); the other worker's run decides`);
  }

  private scheduleFlush(): void {
    if (this.flushing) {
      if (this.release && this.pendingRecords.length >= FLUSH_BATCH) this.hurry();
      return;
    }
    this.flushing = new Promise<void>((resolve) => {
      this.release = resolve;
      setImmediate(() => {
        if (this.release !== resolve) return;
        if (this.pendingRecords.length < FLUSH_BATCH && this.busy()) this.waitTimer = setTimeout(this.hurry, FLUSH_WAIT_MS);
        else this.hurry();
      });
    }).then(() => this.flushNow()).finally(() => { this.flushing = null; });
  }

  private async flushNow(): Promise<void> {
    while (this.pendingRecords.length) {
      const records = this.pendingRecords; const acks = this.pendingAcks; const events = this.pendingEvents;
      this.pendingRecords = []; this.pendingAcks = []; this.pendingEvents = [];
      let written: string[];
      try {
        written = await this.d.store.succeeded(records, acks);
      } catch (err) {
        this.d.store.failed('record', err);
        const silent = events.length ? `; jobSucceeded was not fired for them` : '';
        this.d.logger.error(`could not record ${records.length} finished job(s): ${messageOf(err)}; they will run again when their leases expire${silent}`);
        continue;
      }
      this.d.store.worked('record');
      if (written.length === acks.length) {
        for (const e of events) this.d.bus.emit('jobSucceeded', e);
        continue;
      }
      // Fenced out: another worker took these jobs over since this one checked its lease. Nothing was written.
      const held = new Set(written);
      const lost = records.filter((r) => !held.has(r.id));
      this.counters.done -= lost.length;
      this.overtaken(lost.map((r) => ({ id: r.id, attempts: r.attempts })), 'SUCCESS');
      for (const e of events) if (held.has(e.jobId)) this.d.bus.emit('jobSucceeded', e);
    }
  }

  /** Waits until every finished job is recorded and acked. */
  async flush(): Promise<void> {
    while (this.flushing || this.pendingRecords.length) {
      if (this.flushing) {
        this.hurry();
        await this.flushing;
      }
      else await this.flushNow();
    }
  }
}
