/**
 * Lease keeping: renews the leases of every job this worker holds (buffered or in flight) every third
 * of the visibility timeout, from the main thread, so a CPU-bound job is never mistaken for a dead
 * one; drops the jobs whose lease was lost; and looks for cancel requests among them.
 * Must never: renew from a job's thread; let a worker that lost a lease write that job's outcome.
 */
import { messageOf, type ClaimedJob } from '../../sdk/plugin.ts';
import type { PoolState } from './state.ts';

/**
 * How often a worker with jobs in hand looks for cancel requests with the queue's cheap read
 * (`cancelRequested`), besides each change notification: a cancel reaches a running job within about
 * this long even where notifications are lost (fs.watch on network filesystems), without waiting for
 * a lease renewal (a third of the visibility timeout).
 */
const CANCEL_POLL_MS = 500;
/** Change notifications come with every commit under load: cancel checks are at most this frequent. */
const CANCEL_CHECK_MIN_MS = 100;

export class LeaseKeeper {
  private renewTimer?: NodeJS.Timeout;
  private cancelTimer?: NodeJS.Timeout;
  /** A cancel check is running, or one is due (coalesced: at most one per CANCEL_CHECK_MIN_MS). */
  private cancelCheck: 'idle' | 'running' | 'due' = 'idle';
  private lastCancelCheck = 0;
  private renewing = false;

  constructor(private readonly p: PoolState) {}

  start(): void {
    this.renewTimer = setInterval(() => void this.renew(), Math.max(20, this.p.s.leaseMs / 3));
    if (this.p.store.readsCancels) {
      this.cancelTimer = setInterval(() => this.checkCancelsIfHolding(), CANCEL_POLL_MS);
      this.cancelTimer.unref();
    }
  }

  stop(): void {
    clearInterval(this.renewTimer);
    clearInterval(this.cancelTimer);
  }

  /** A change in the queue may be a cancel request for a job this worker holds: look now. */
  checkCancelsIfHolding(): void {
    if (this.p.inflight.size || this.p.buffer.length) this.checkCancels();
  }

  /**
   * Whether this worker still holds the job's lease, so that its writes cannot overwrite the outcome
   * of a worker that took the job over (this process was paused, or starved, past the lease). Known
   * without a query while the lease has time left; near or past its end, a renewal decides.
   */
  async holds(job: ClaimedJob): Promise<boolean> {
    const p = this.p;
    const t = Date.now();
    if (t < job.leaseExpiresAt - p.s.leaseMarginMs) return true;
    const { held } = await p.store.renew([job.id], p.s.leaseMs);
    if (held.includes(job.id)) {
      job.leaseExpiresAt = t + p.s.leaseMs;
      return true;
    }
    p.d.logger.warn(`lost the lease of job ${job.id} (attempt ${job.attempts}); its outcome here is discarded, since another worker may run it`);
    return false;
  }

  async renew(): Promise<void> {
    const p = this.p;
    // One renewal at a time: on a stalled connection they would pile up, each holding a pool request,
    // and all answer at once (one "lost the lease" line per job per renewal).
    if (this.renewing) return;
    const ids = [...p.inflight.keys()];
    for (const b of p.buffer) ids.push(b.job.id);
    if (!ids.length) return;
    this.renewing = true;
    try {
      const t = Date.now();
      const { held, cancelled } = await p.store.renew(ids, p.s.leaseMs);
      const heldSet = new Set(held);
      for (const id of ids) {
        const e = p.inflight.get(id);
        const i = e ? -1 : p.buffer.findIndex((b) => b.job.id === id);
        const job = e?.job ?? p.buffer[i]?.job;
        if (!job) continue; // finished while the renewal ran
        if (heldSet.has(id)) { job.leaseExpiresAt = t + p.s.leaseMs; continue; }
        p.d.logger.warn(`lost the lease of job ${id} (attempt ${job.attempts}); another worker may run it, so this worker drops it and discards its outcome`);
        if (e) {
          e.fate = 'lost';
          e.thread.send({ t: 'abort', id, reason: 'cancel' });
        } else if (i >= 0) {
          p.buffer.splice(i, 1);
        }
      }
      this.cancelled(cancelled);
    } catch (err) {
      p.store.failed('renew', err);
      p.d.logger.warn(`lease renewal failed: ${messageOf(err)}; retrying`);
    } finally {
      this.renewing = false;
    }
  }

  /** Aborts running jobs whose cancel was requested; cancels buffered ones at once. */
  private cancelled(ids: readonly string[]): void {
    const p = this.p;
    for (const id of ids) {
      const e = p.inflight.get(id);
      if (e) { p.parts.endings.abort(e, 'cancel'); continue; }
      const i = p.buffer.findIndex((b) => b.job.id === id);
      if (i >= 0) {
        const [b] = p.buffer.splice(i, 1);
        p.parts.endings.cancelBeforeStart(b.job, b.args);
      }
    }
  }

  /**
   * Looks for cancel requests among the jobs this worker holds, coalesced (one at a time, at most one
   * per CANCEL_CHECK_MIN_MS). With the queue's read-only `cancelRequested`; a queue without it is
   * asked through a lease renewal, which reports cancels too.
   */
  private checkCancels(): void {
    const p = this.p;
    if (p.stopping) return;
    if (this.cancelCheck !== 'idle') { this.cancelCheck = 'due'; return; }
    const reads = p.store.readsCancels;
    // A renewal is a write: a queue without the read is asked at most once a second.
    const wait = this.lastCancelCheck + (reads ? CANCEL_CHECK_MIN_MS : 1000) - Date.now();
    this.cancelCheck = 'running';
    const run = async () => {
      this.lastCancelCheck = Date.now();
      try {
        const ids: string[] = [];
        for (const e of p.inflight.values()) if (!e.abort && e.fate !== 'written') ids.push(e.job.id);
        for (const b of p.buffer) ids.push(b.job.id);
        if (ids.length) {
          if (reads) this.cancelled(await p.store.cancelRequested(ids));
          else await this.renew();
        }
      } catch (err) {
        p.d.logger.debug(`looking for cancel requests failed: ${messageOf(err)}; the lease renewal will see them`);
      }
      const again = this.cancelCheck === 'due';
      this.cancelCheck = 'idle';
      if (again) this.checkCancels();
    };
    if (wait > 0) setTimeout(() => void run(), wait).unref();
    else void run();
  }
}
