/**
 * Claiming and the buffer: claims batches under a lease ahead of the free slots (up to `batchSize`
 * jobs wait in the pool's buffer, under their leases, renewed like running ones), so that a finished
 * job is replaced from memory at once and claims stay batched: one claim per batch, not per job, which
 * writes the jobs' RUNNING records in the same transaction (JobStore.claim). Decodes each claimed job, and fails at once those that cannot run here.
 * Must never: let an error after a committed claim strand its jobs (they are given back, see
 * prepareOrGiveBack); end a long-running worker on a storage error (a burst run ends with it).
 */
import { NuvomError, messageOf, rememberArgsBytes, type ClaimedJob } from '../../sdk/plugin.ts';
import { listened } from './outcomes.ts';
import type { Buffered, PoolState } from './state.ts';

/**
 * Deliveries allowed beyond a job's attempts for runs that never finished (a worker SIGKILLed, a
 * thread that died with other jobs): enough to ride out crashes, few enough that a job that kills
 * whatever runs it does not loop forever.
 */
const EXTRA_DELIVERIES = 3;

/**
 * How far ahead the pool claims: at most `batchSize` jobs, but only as many as it ends in about
 * AHEAD_MS at its recent pace, and at least AHEAD_MIN. Short jobs get big claims (one claim
 * transaction per tens of jobs); slow ones are not hoarded under this worker's leases while another
 * worker idles: a worker holds its running jobs, what it ends in AHEAD_MS, and one more. A worker
 * starts at AHEAD_START (a worker started on a full queue of short jobs ramps up from there), and one
 * that found the queue empty holds AHEAD_MIN until it has a pace again. (It used to hold at least ten
 * ahead always: two idle workers, eight 8-second jobs, and the first took all eight while the second
 * ran none.) The one more is what tells the queue is drained: a claim that asks for one job past the
 * free slots and gets fewer is short, so the worker claims again only when told of new work; asking
 * for the free slots alone, a trickle of jobs cost an empty claim and a read of the next run time
 * after each job, beside its outcome's write.
 */
const AHEAD_MS = 200;
const AHEAD_START = 10;
const AHEAD_MIN = 1;
/**
 * The pace is measured over windows of this length, or over a shorter one (at least PACE_MIN_MS) that
 * has already ended twice the jobs claimed ahead and at least PACE_MIN_ENDED: short jobs ramp up to
 * big claims in a few claims (from ten ahead, a 10,000-job drain ran its first 100 ms on claims of
 * 10-20 jobs). Slow jobs keep the whole window, long enough that jobs started together and ending
 * together (two threads' 8-second jobs, in one 100 ms window: "4 ahead") do not read as a pace.
 */
const PACE_WINDOW_MS = 500;
const PACE_MIN_MS = 10;
const PACE_MIN_ENDED = 20;

/**
 * How many jobs to claim ahead once `ended` jobs ended in the `elapsed` ms of a pace window (claiming
 * `ahead` now, at most `batchSize`), or null while the window is still open: the whole jobs the
 * worker ends within AHEAD_MS, and at least AHEAD_MIN.
 * @internal exported for its tests
 */
export function paceAhead(ahead: number, batchSize: number, ended: number, elapsed: number): number | null {
  if (elapsed < PACE_MIN_MS || (elapsed < PACE_WINDOW_MS && ended < Math.max(2 * ahead, PACE_MIN_ENDED))) return null;
  return Math.min(batchSize, Math.max(AHEAD_MIN, Math.floor((ended / elapsed) * AHEAD_MS)));
}

/** Which jobs of a claim are settled: refused ones (their outcome written; or held here already, or by another worker), and all once buffered. */
interface Handled {
  refused: Set<string> | null;
  buffered: boolean;
}

export class Claimer {
  /** The last claim came back short: do not claim again until new work is signalled or a poll is due. */
  private dry = false;
  private newWork = false;
  /** The queue's next runAt as read since the last claim or signal (undefined: not read yet): read once per dry spell, not per wake. */
  private nextAt: number | null | undefined = undefined;
  /** Jobs claimed ahead at most now (see AHEAD_MS), and the pace window it was set from. */
  private ahead: number;
  private paceSince = Date.now();
  private paceDone = 0;

  constructor(private readonly p: PoolState) {
    this.ahead = Math.min(p.s.batchSize, AHEAD_START);
  }

  /** Follows the pool's pace: jobs ended per ms over the last window sets how many it claims ahead. */
  private pace(now: number): void {
    const { done, failed } = this.p.counters;
    const ended = done + failed - this.paceDone;
    const next = paceAhead(this.ahead, this.p.s.batchSize, ended, now - this.paceSince);
    if (next !== null) this.newWindow(next, now);
  }

  /** Claims `ahead` ahead from now on, and measures the pace from now. */
  private newWindow(ahead: number, now: number): void {
    const { done, failed } = this.p.counters;
    this.ahead = ahead;
    this.paceSince = now;
    this.paceDone = done + failed;
  }

  /** The queue signalled a change. */
  signal(): void {
    this.newWork = true;
    this.nextAt = undefined;
    this.p.wake();
  }

  async loop(): Promise<void> {
    const p = this.p;
    const poll = p.opts.pollMs ?? (p.store.watches ? 1000 : 50);
    let backoffMs = 0;
    while (!p.stopping) {
      try {
        if (await this.step(poll)) break;
        backoffMs = 0;
      } catch (err) {
        p.store.failed('claim', err);
        // A burst run waits for no one: retrying a server that is down or a schema not migrated
        // would never end it, so it ends with the error (the store has retried what it could).
        if (p.opts.burst === true) throw err;
        // A storage error (SQLITE_BUSY past its retries, a full disk) must not end the worker: the
        // jobs it holds come back when their leases expire, and the next claim may well succeed.
        backoffMs = Math.min(5000, Math.max(100, backoffMs * 2));
        p.d.logger.warn(`claiming jobs failed: ${messageOf(err)}; trying again in ${backoffMs} ms`, { code: (err as NuvomError).code });
        await p.sleep(backoffMs);
      }
    }
  }

  /** One round of the loop: dispatch, claim if worth it, else wait. Resolves true when a burst run is done. */
  private async step(poll: number): Promise<boolean> {
    const p = this.p;
    const slots = p.parts.slots;
    slots.dispatch();
    // A job's last chance waits for, then runs without, company: nothing is claimed meanwhile.
    if (p.lastChance !== null) {
      await p.sleep(poll);
      return false;
    }
    const free = slots.capacity();
    this.pace(Date.now());
    const lowWater = Math.max(1, Math.ceil(this.ahead / 2));
    // Jobs in a thread's backlog are claimed ahead too: together with the buffer, at most `ahead`.
    const ahead = p.buffer.length + slots.queuedCount();
    const deficit = free + this.ahead - ahead;
    const worthIt = deficit >= lowWater || (ahead === 0 && free > 0);
    if (worthIt && (!this.dry || this.newWork)) {
      this.newWork = false;
      this.nextAt = undefined;
      const jobs = await p.store.claim(deficit, p.s.leaseMs);
      this.dry = jobs.length < deficit;
      if (jobs.length) { p.store.worked('claim'); await this.prepareOrGiveBack(jobs); return false; }
      // Nothing to claim: whatever comes next (a burst of slow jobs, say) is claimed for the free
      // slots and one more, until a pace says how many more to hold.
      this.newWindow(Math.min(p.s.batchSize, AHEAD_MIN), Date.now());
    }
    const burst = p.opts.burst === true;
    if (this.dry && burst && p.buffer.length === 0 && p.inflight.size === 0 && Date.now() >= p.retriesUntil) {
      await p.parts.outcomes.flush();
      // An outcome still being written may be a retry this run must wait for: look again after it.
      if (p.releasing.size) { await Promise.all(p.releasing); return false; }
      // Nothing claimable now ends a burst run: jobs delayed into the future (runAt ahead, a retry
      // of another worker's) are not this run's work; retries this worker scheduled are (above).
      if ((await p.store.counts()).ready === 0) return true;
    }
    let wait = poll;
    if (this.dry) {
      if (this.nextAt === undefined) this.nextAt = await p.store.nextRunAt();
      const next = this.nextAt;
      if (next !== null) wait = Math.max(1, Math.min(poll, next - Date.now()));
      if (burst && p.retriesUntil > Date.now()) wait = Math.max(1, Math.min(wait, p.retriesUntil - Date.now()));
    }
    if (await p.sleep(wait)) this.dry = false;
    return false;
  }

  /**
   * The claim is committed (attempts counted, leases taken): any error from here on gives back every
   * job of it not yet settled or buffered, its attempt taken back (`release`), so that a failed
   * write (a refused job's outcome) does not leave them to expire, come back, and hit the delivery cap without running.
   */
  private async prepareOrGiveBack(jobs: ClaimedJob[]): Promise<void> {
    const p = this.p;
    const handled: Handled = { refused: null, buffered: false };
    try {
      await this.prepare(jobs, handled);
    } catch (err) {
      const back = handled.buffered ? [] : jobs.filter((j) => !handled.refused?.has(j.id));
      const done = Promise.all(back.map((j) => p.store.release(j.id).catch((e) => {
        p.d.logger.error(`could not give job ${j.id} back to the queue: ${messageOf(e)}; it comes back when its lease expires`);
      })));
      p.track(done);
      await done;
      throw new NuvomError('NUVOM_E_STORAGE', `${messageOf(err)} (after claiming ${jobs.length} job(s): ${back.length} given back to the queue, no attempt spent)`, { cause: err });
    }
  }

  /**
   * The jobs of a claim this worker does not hold already. A claim takes jobs whose lease ran out, and
   * that may be this worker's own (its renewals stalled with its connection): such a job runs, or
   * waits, here already. It is not started twice; the entry here takes the new attempt and lease,
   * under which its outcome is written.
   */
  private notHereYet(jobs: ClaimedJob[]): ClaimedJob[] {
    const p = this.p;
    if (!jobs.some((j) => j.redelivered)) return jobs;
    const buffered = new Map(p.buffer.map((b) => [b.job.id, b]));
    return jobs.filter((job) => {
      if (!job.redelivered) return true;
      const here = p.inflight.get(job.id) ?? buffered.get(job.id);
      if (!here) return true;
      here.job.attempts = job.attempts;
      here.job.leaseExpiresAt = job.leaseExpiresAt;
      p.d.logger.warn(`job ${job.id} came back to this worker, which still holds it (its lease ran out while this worker's renewals were held up); it is not started a second time`);
      return false;
    });
  }

  /**
   * A claim that came back after its leases ran out (its statement held up on a stalled connection,
   * or retried): another worker may have claimed those jobs since, and this worker's next claim would
   * take them again. Renewed first; only the jobs still held run.
   */
  private async stillHeld(jobs: ClaimedJob[]): Promise<ClaimedJob[]> {
    const p = this.p;
    const t = Date.now();
    if (!jobs.length || t < jobs[0].leaseExpiresAt - p.s.leaseMarginMs) return jobs;
    const { held } = await p.store.renew(jobs.map((j) => j.id), p.s.leaseMs);
    const kept = new Set(held);
    for (const j of jobs) if (kept.has(j.id)) j.leaseExpiresAt = t + p.s.leaseMs;
    const lost = jobs.filter((j) => !kept.has(j.id));
    if (lost.length) {
      p.d.logger.warn(`a claim came back after its leases had run out (it took ${Math.round((t - jobs[0].leaseExpiresAt + p.s.leaseMs) / 1000)} s); ${lost.length} of its ${jobs.length} job(s) were taken by another worker meanwhile and are not started here: ${lost.slice(0, 5).map((j) => j.id).join(', ')}${lost.length > 5 ? ', ...' : ''}`);
    }
    return lost.length ? jobs.filter((j) => kept.has(j.id)) : jobs;
  }

  /** Fails a job that cannot run here, at once (no attempt runs). */
  private refuse(job: ClaimedJob, args: unknown[], message: string, now: number, final: boolean): Promise<void> {
    const j = final ? { ...job, options: { ...job.options, maxRetries: 0 } } : job;
    return this.p.parts.outcomes.finalize(j, args, { ok: false, kind: 'error', error: { name: 'NuvomError', message, stack: null } }, now, true);
  }

  /**
   * Decodes claimed jobs, fails those that cannot run here, buffers the rest (the claim recorded them RUNNING).
   * `handled` tells which jobs have their outcome written or reached the buffer.
   */
  private async prepare(claimed: ClaimedJob[], handled: Handled): Promise<void> {
    const p = this.p;
    const { bus, serializer, registry } = p.d;
    const jobs = await this.stillHeld(this.notHereYet(claimed));
    // The others are not given back on an error below: this worker runs them already, or another holds them.
    if (jobs.length < claimed.length) {
      const kept = new Set(jobs.map((j) => j.id));
      for (const j of claimed) if (!kept.has(j.id)) (handled.refused ??= new Set()).add(j.id);
    }
    const now = Date.now();
    const ready: Buffered[] = [];
    /** The job of this claim given a last run alone, and the ones past the cap that wait for theirs (given back). */
    let lastChance: Buffered | null = null;
    const later: Array<{ job: ClaimedJob; args: unknown[] }> = [];
    const redelivered = listened(bus.hooks.jobRedelivered);
    const claimedHeard = listened(bus.hooks.jobClaimed);
    for (const job of jobs) {
      // The queue says this claim follows a lease that ran out (a worker died, hung or lost it).
      if (job.redelivered && redelivered) {
        bus.emit('jobRedelivered', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: p.id });
      }
      // Decoded before any refusal: a job failed here keeps its arguments in its record, so that a
      // retry (`nuvom retry`, retryJob) runs it with them. Arguments that cannot be decoded go as an
      // empty list that carries the job's own bytes (a store that writes them back keeps them).
      let args: unknown[];
      let undecodable: string | null = null;
      try {
        const decoded = serializer.decode(job.args);
        if (!Array.isArray(decoded)) throw new Error('stored arguments are not a list');
        args = decoded;
      } catch (err) {
        args = [];
        undecodable = messageOf(err);
      }
      // The record of this run carries this list: its store can write the job's own bytes back (nuvom/plugin argsBytesOf).
      rememberArgsBytes(args, job.args);
      const cap = job.options.maxRetries + 1 + EXTRA_DELIVERIES;
      if (job.attempts > cap + 1) {
        await this.refuse(job, args, `the job was delivered ${job.attempts} times, past its ${job.options.maxRetries + 1} attempt(s) and ${EXTRA_DELIVERIES} more for crashed workers; its last runs never finished (each ended its worker, its thread, or lost its lease; the last one ran alone in its worker): fix the task, then retry the job`, now, true);
        (handled.refused ??= new Set()).add(job.id);
        continue;
      }
      const ref = registry.get(job.taskName);
      if (job.attempts > cap && undecodable === null && !job.damaged && ref?.moduleUrl) {
        // Past the cap: claimed ahead of a crash is enough to get there (a claim counts each job it
        // takes), so before failing it the job gets one run alone in this process (see lastChance).
        if (lastChance === null && p.lastChance === null) lastChance = { job, args, moduleUrl: ref.moduleUrl, exportName: ref.exportName };
        else later.push({ job, args });
        continue;
      }
      if (job.damaged) {
        await this.refuse(job, args, `the stored job is damaged and cannot run: ${job.damaged}`, now, true);
        (handled.refused ??= new Set()).add(job.id);
        continue;
      }
      if (undecodable !== null) {
        await this.refuse(job, args, `could not decode the job's arguments: ${undecodable}`, now, false);
        (handled.refused ??= new Set()).add(job.id);
        continue;
      }
      if (!ref || !ref.moduleUrl) {
        await this.refuse(job, args, `task "${job.taskName}" is unknown to this worker${ref ? ' (its module is not known)' : ''}; define it in an imported module or run \`nuvom discover tasks\` and restart the worker`, now, false);
        (handled.refused ??= new Set()).add(job.id);
        continue;
      }
      ready.push({ job, args, moduleUrl: ref.moduleUrl, exportName: ref.exportName });
      if (claimedHeard) bus.emit('jobClaimed', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: p.id });
    }
    if (lastChance !== null || later.length) {
      // Whatever this process holds unstarted goes back to the queue, its attempt taken back, and is
      // written back before the last chance starts: if the job ends this process again, nothing else
      // is counted against its cap with it.
      const back = lastChance === null ? later : [...later, ...ready.splice(0), ...p.buffer.splice(0)];
      await p.parts.endings.giveBackUnstarted(back);
    }
    if (lastChance !== null) {
      const job = lastChance.job;
      p.d.logger.warn(`job ${job.id} (task ${job.taskName}) was delivered ${job.attempts} times and its runs never finished (each time its worker or thread ended, or lost its lease); it runs once more alone in this worker, and is failed if that run does not finish either`);
      p.lastChance = job.id;
      p.suspects.add(job.id);
      ready.push(lastChance);
      if (claimedHeard) bus.emit('jobClaimed', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: now, workerId: p.id });
    }
    // The claim wrote the RUNNING records (JobStore.claim).
    for (const b of ready) p.buffer.push(b);
    handled.buffered = true;
    p.parts.slots.dispatch();
  }
}
