/**
 * How a job's run in this pool ends: aborted (timeout, cancel, shutdown) with a grace period, then
 * settled (its outcome handed to the recorder, outcomes.ts) or given back to the queue (a thread
 * replaced, a shutdown). A task that ignores its abort past the grace period is stopped by ending its
 * thread (supervisor.ts); in-process, where nothing can be ended, it is abandoned: its slot frees and
 * its outcome is the abort's, whatever it does later.
 * Must never: write the outcome of a job whose lease another worker may hold (see leases.ts `holds`).
 */
import { messageOf, type ClaimedJob, type JobError } from '../../sdk/plugin.ts';
import type { Outcome } from './outcomes.ts';
import type { AbortReason, Inflight, PoolState } from './state.ts';

/** When and where an attempt given back started here (its history entry's start and thread). */
type Ran = { startedAt: number; threadId: number };

/** A running job's start and thread; a job still in a host's backlog never started (none). */
const ranOf = (entry: Inflight): Ran | undefined => (entry.phase === 'running' ? { startedAt: entry.startedAt, threadId: entry.thread.threadId } : undefined);

const CANCELLED_BEFORE_START: JobError = { name: 'AbortError', message: 'the job was cancelled before it started', stack: null };

export class Endings {
  private readonly onGrace = (entry: Inflight): void => this.graceOver(entry);

  constructor(private readonly p: PoolState) {}

  abort(entry: Inflight, reason: AbortReason): void {
    const p = this.p;
    if (entry.abort || !p.inflight.has(entry.job.id)) return;
    entry.abort = reason;
    if (reason === 'timeout') {
      p.d.bus.emit('jobTimedOut', { jobId: entry.job.id, taskName: entry.job.taskName, attempt: entry.job.attempts, at: Date.now(), workerId: p.id, runMs: Date.now() - entry.startedAt });
    }
    // A timeout that fails or retries the job is an error the task's onError hook hears of, fired in
    // the thread now, within the grace period before the thread may be ended (docs/workers.md).
    const onError = reason === 'timeout' && entry.job.options.timeoutPolicy !== 'ignore' ? { onError: true as const } : {};
    entry.thread.send({ t: 'abort', id: entry.job.id, reason, ...onError });
    if (entry.phase === 'backlog') {
      // Not started: cancelled at once, as from the buffer; the host drops it from its backlog
      // (or, had it just started it, aborts it) and its report is then ignored.
      if (reason === 'cancel') {
        entry.fate = 'written';
        this.cancelBeforeStart(entry.job, entry.args);
      }
      return;
    }
    this.armGrace(entry);
  }

  /** Cancels a job that never started (in the buffer, or a host's backlog). */
  cancelBeforeStart(job: ClaimedJob, args: unknown[]): void {
    const write = this.p.parts.outcomes.finalize(job, args, { ok: false, kind: 'cancel', error: CANCELLED_BEFORE_START }, Date.now(), true);
    this.p.track(write.catch((err) => this.p.d.logger.error(`could not record the cancel of job ${job.id}: ${messageOf(err)}`)));
  }

  armGrace(entry: Inflight): void {
    if (!entry.abort || entry.grace) return;
    // The signal is a request; a task that ignores it (a CPU loop) is stopped by ending its thread.
    entry.grace = setTimeout(this.onGrace, this.p.s.graceMs, entry);
  }

  private graceOver(entry: Inflight): void {
    const p = this.p;
    if (p.inflight.get(entry.job.id) !== entry) return;
    if (entry.thread.inline) {
      // Nothing to terminate on the pool's own thread: the job is abandoned (see runner.ts).
      p.d.logger.warn(`job ${entry.job.id} did not stop within ${p.s.graceMs} ms of its ${entry.abort}; it runs on in-process, abandoned (its outcome is the ${entry.abort}'s)`);
      entry.thread.send({ t: 'abandon', id: entry.job.id });
      return;
    }
    void p.parts.supervisor.replaceThread(entry.thread, `job ${entry.job.id} did not stop within ${p.s.graceMs} ms of its ${entry.abort}`);
  }

  abortError(entry: Inflight): JobError {
    const s = entry.job.options.timeoutSecs;
    if (entry.abort === 'timeout') return { name: 'TimeoutError', message: `job ran past its timeout of ${s}s (task "${entry.job.taskName}")`, stack: null };
    if (entry.abort === 'cancel') return { name: 'AbortError', message: 'the job was cancelled while running', stack: null };
    return { name: 'AbortError', message: 'the worker shut down while the job ran', stack: null };
  }

  settle(entry: Inflight, outcome: Outcome): void {
    const p = this.p;
    if (!p.inflight.has(entry.job.id)) return;
    p.parts.slots.untrack(entry);
    // A job asked to stop for a shutdown that finished anyway keeps its success; one that stopped goes back.
    if (entry.abort === 'shutdown' && !outcome.ok) { this.giveBack(entry.job, entry.args, true, ranOf(entry)); return; }
    if (entry.abort === 'shutdown') entry.abort = null;
    if (entry.abort) outcome = { ok: false, kind: entry.abort === 'cancel' ? 'cancel' : 'timeout', error: this.abortError(entry) };
    if (entry.fate === 'lost') return;
    const leased = Date.now() < entry.job.leaseExpiresAt - p.s.leaseMarginMs;
    const outcomes = p.parts.outcomes;
    // The common case, a success under a lease with time left, is recorded synchronously: no promise.
    if (leased && outcome.ok) {
      try {
        if (outcomes.succeed(entry.job, entry.args, outcome.result, entry.startedAt, false, entry.thread.threadId) === null) return;
      } catch (err) {
        p.d.logger.error(`could not record the outcome of job ${entry.job.id}: ${messageOf(err)}; it will be delivered again when its lease expires`);
        return;
      }
    }
    const record = () => outcomes.finalize(entry.job, entry.args, outcome, entry.startedAt, false, entry.thread.threadId);
    const write = leased
      ? record()
      : p.parts.leases.holds(entry.job).then((held) => (held ? record() : undefined));
    p.track(write.catch((err) => {
      p.d.logger.error(`could not record the outcome of job ${entry.job.id}: ${messageOf(err)}; it will be delivered again when its lease expires`);
    }));
  }

  /** Returns an in-flight job to the queue at once without counting a failure (thread replaced, shutdown). */
  release(entry: Inflight): void {
    this.p.parts.slots.untrack(entry);
    this.giveBack(entry.job, entry.args, true, ranOf(entry));
  }

  /**
   * Jobs claimed ahead that never started (the buffer at shutdown), given back in one write. One whose
   * lease needs renewing first (past its margin) goes through giveBack, as does every job of a write that fails.
   */
  giveBackUnstarted(items: Array<{ job: ClaimedJob; args: unknown[] }>): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const p = this.p;
    const now = Date.now();
    const fresh: typeof items = [];
    const each: Array<Promise<void>> = [];
    for (const b of items) {
      if (now < b.job.leaseExpiresAt - p.s.leaseMarginMs) fresh.push(b);
      else each.push(this.giveBack(b.job, b.args, false));
    }
    if (fresh.length === 0) return Promise.all(each).then(() => undefined);
    // The one-by-one fallback runs inside the tracked write, so stop() waits for it too; its failures make one log line.
    const batch = p.store.giveBackUnstarted(fresh).catch(async (err) => {
      p.d.logger.warn(`could not return ${fresh.length} job(s) claimed ahead to the queue in one write: ${messageOf(err)}; returning them one by one`);
      const failed: string[] = [];
      let first: unknown;
      await Promise.all(fresh.map((b) => this.returnOne(b.job, b.args, false).catch((e: unknown) => { failed.push(b.job.id); first ??= e; })));
      if (failed.length) {
        p.d.logger.error(`could not return ${failed.length} job(s) claimed ahead to the queue (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', ...' : ''}): ${messageOf(first)}; they come back when their leases expire`);
      }
    });
    p.track(batch);
    return Promise.all([batch, ...each]).then(() => undefined);
  }

  /**
   * `started`: the attempt ran (part of it), so it counts; a job claimed ahead and never started is
   * released with its claim's attempt taken back, so a graceful restart costs no retry.
   */
  giveBack(job: ClaimedJob, args: unknown[], started: boolean, ran?: Ran): Promise<void> {
    const p = this.p;
    const back = this.returnOne(job, args, started, ran)
      .catch((err) => p.d.logger.error(`could not return job ${job.id} to the queue: ${messageOf(err)}; it comes back when its lease expires`));
    p.track(back);
    return back;
  }

  /** One job back to the queue while this worker still holds it (its lease renewed first if near its end). */
  private returnOne(job: ClaimedJob, args: unknown[], started: boolean, ran?: Ran): Promise<void> {
    const p = this.p;
    return p.parts.leases.holds(job).then((held) => (held ? p.store.giveBack(job, args, started, ran) : undefined));
  }
}
