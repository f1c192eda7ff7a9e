/**
 * Dispatch to slots: hands buffered jobs to hosts with free slots (up to `concurrency` jobs each),
 * follows which of the jobs sent ahead have started there, and takes back those a host returns
 * unstarted. Reads the hosts' messages and passes outcomes on to the endings (endings.ts).
 * Must never: send a job to a host that is not open; start a job's timer before its host is ready.
 */
import { messageOf, type JobError } from '../../sdk/plugin.ts';
import { Deadlines } from './deadlines.ts';
import { listened } from './outcomes.ts';
import type { FromThread, RunBatch } from './protocol.ts';
import { inflightOf, type Buffered, type Inflight, type PoolState } from './state.ts';
import type { SlotHost } from './threads.ts';

/** Adds a job to a run batch; its task goes into the batch's table once. */
function add(batch: RunBatch, b: Buffered): void {
  const name = b.job.taskName;
  const { tasks } = batch;
  let k = tasks.length - 1;
  // Batches mostly hold one task, or runs of one: look at the last first.
  if (k < 0 || tasks[k].taskName !== name) {
    k = tasks.findIndex((t) => t.taskName === name);
    if (k < 0) k = tasks.push({ taskName: name, moduleUrl: b.moduleUrl, exportName: b.exportName }) - 1;
  }
  batch.ids.push(b.job.id);
  batch.task.push(k);
  batch.args.push(b.args);
  batch.attempts.push(b.job.attempts);
}

export class Slots {
  /** Running jobs' timeouts: one timer for all (deadlines.ts). */
  private readonly deadlines = new Deadlines<Inflight>((entry) => this.p.parts.endings.abort(entry, 'timeout'));

  constructor(private readonly p: PoolState) {}

  /** Jobs sent ahead into hosts' backlogs. */
  queuedCount(): number {
    let n = 0;
    for (const t of this.p.threads) n += t.queued.length;
    return n;
  }

  capacity(): number {
    const c = this.p.s.concurrency;
    let n = 0;
    for (const t of this.p.threads) if (t.open && t.jobs.size < c) n += c - t.jobs.size;
    return n;
  }

  /**
   * Hands buffered jobs to hosts with free slots: one message per host per call. Where a single
   * host is open (so no other could start a job sooner), it also gets jobs beyond its free slots,
   * into its backlog: refilled when it runs low, so that a message carries tens of jobs rather than
   * the few that just finished. They start there as slots free, which the pool follows (promote).
   */
  dispatch(): void {
    const p = this.p;
    const { concurrency, batchSize } = p.s;
    // A job's last chance starts alone once nothing else runs here, and nothing joins it. One that
    // left the buffer meanwhile (cancelled, its lease lost) ends the wait.
    if (p.lastChance !== null) {
      if (p.inflight.has(p.lastChance)) return;
      const i = p.buffer.findIndex((b) => b.job.id === p.lastChance);
      if (i < 0) p.lastChance = null;
      else if (p.inflight.size > 0) return;
      else if (i > 0) p.buffer.unshift(...p.buffer.splice(i, 1));
    }
    if (!p.buffer.length || p.stopping) return;
    const batches = new Map<SlotHost, RunBatch>();
    let open = 0;
    for (const t of p.threads) if (t.open) open++;
    let topping: SlotHost | null = null;
    const told = listened(p.d.bus.hooks.jobStarted);
    const now = Date.now();
    let expired: Buffered[] | null = null;
    while (p.buffer.length && !p.stopping) {
      // A lease that ran out while the job waited here (this worker stalled or starved past its
      // renewals): another worker may have taken the job, so it does not start here; it goes back
      // to the queue unless another worker holds it (as the buffer does at shutdown).
      if (now >= p.buffer[0].job.leaseExpiresAt) {
        (expired ??= []).push(p.buffer.shift()!);
        continue;
      }
      const suspect = p.suspects.size > 0 && p.suspects.has(p.buffer[0].job.id);
      const thread = this.pickThread(suspect);
      if (!thread) break;
      const ahead = thread.jobs.size >= concurrency || thread.queued.length > 0;
      if (ahead) {
        if (suspect || open !== 1 || !thread.ready || thread.solo || thread.recalling || thread.queued.length >= batchSize) break;
        if (topping !== thread) {
          if (thread.queued.length > concurrency) break;
          topping = thread;
        }
      }
      const b = p.buffer.shift()!;
      if (suspect) thread.solo = true;
      const last = b.job.id === p.lastChance;
      const entry = inflightOf(b, thread, ahead ? 'backlog' : 'running');
      p.inflight.set(b.job.id, entry);
      let batch = batches.get(thread);
      if (!batch) batches.set(thread, (batch = { t: 'run', limit: concurrency, tasks: [], ids: [], task: [], args: [], attempts: [] }));
      add(batch, b);
      if (ahead) {
        thread.queued.push(b.job.id);
      } else {
        thread.jobs.add(b.job.id);
        this.started(entry, told);
      }
      if (last) break;
    }
    for (const [thread, batch] of batches) thread.send(batch);
    if (expired) {
      const ids = expired.map((b) => b.job.id);
      p.d.logger.warn(`the lease of ${ids.length} job(s) ran out before they started here (this worker was stalled or starved past its lease renewals); another worker may run them, so they are not started here: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''}`);
      p.track(p.parts.endings.giveBackUnstarted(expired).catch((err: unknown) => p.d.logger.warn(`could not return ${ids.length} job(s) whose lease ran out to the queue: ${messageOf(err)}; they come back when their leases expire`)));
    }
  }

  /** A job took a slot of its host: its timer starts (once the host is ready) and jobStarted fires. */
  private started(entry: Inflight, told = listened(this.p.d.bus.hooks.jobStarted)): void {
    const { job, thread } = entry;
    // A fresh thread's start-up (loading the runner, and the TS loader where needed) is not the job's time.
    if (thread.ready) this.startTimer(entry);
    if (told) {
      this.p.d.bus.emit('jobStarted', { jobId: job.id, taskName: job.taskName, attempt: job.attempts, at: entry.startedAt, workerId: this.p.id, threadId: thread.threadId, waitMs: Math.max(0, entry.startedAt - job.runAt) });
    }
  }

  private startTimer(entry: Inflight): void {
    const now = Date.now();
    entry.startedAt = now;
    this.deadlines.add(entry, entry.job.options.timeoutSecs * 1000, now);
  }

  /** A backlog job started in its host (a slot freed there): it runs from now. */
  private begin(entry: Inflight): void {
    const thread = entry.thread;
    const q = thread.queued;
    // Backlog jobs start in order: it is nearly always the first.
    if (q[0] === entry.job.id) q.shift();
    else {
      const i = q.indexOf(entry.job.id);
      if (i >= 0) q.splice(i, 1);
    }
    entry.phase = 'running';
    entry.startedAt = Date.now();
    thread.jobs.add(entry.job.id);
    this.started(entry);
  }

  /**
   * The host started backlog jobs in the slots its last outcomes freed (it does so right after
   * posting them, in order): the pool moves as many from `queued` to `jobs`.
   */
  private promote(thread: SlotHost): void {
    const c = this.p.s.concurrency;
    while (thread.queued.length && thread.jobs.size < c) {
      const entry = this.p.inflight.get(thread.queued[0])!;
      this.begin(entry);
      if (entry.abort) this.p.parts.endings.armGrace(entry);
    }
  }

  /** Asks a host for its backlog back (a reload, a stop): see the 'recalled' message. */
  recall(thread: SlotHost): void {
    if (!thread.queued.length || thread.recalling || thread.exited) return;
    thread.recalling = true;
    thread.send({ t: 'recall' });
  }

  /** Jobs a host gave back unstarted (recalled, or its thread ended): to the buffer, or the queue when stopping. */
  unqueue(entries: Inflight[]): void {
    const p = this.p;
    const back: Buffered[] = [];
    for (const e of entries) {
      this.untrack(e);
      if (e.fate !== 'open') continue;
      if (p.stopping) p.parts.endings.giveBack(e.job, e.args, false);
      else back.push({ job: e.job, args: e.args, moduleUrl: e.moduleUrl, exportName: e.exportName });
    }
    if (back.length) {
      p.buffer.unshift(...back);
      p.wake();
    }
  }

  /** The least busy open host; a suspect runs alone, and nothing joins a thread running one. */
  private pickThread(alone = false): SlotHost | null {
    let best: SlotHost | null = null;
    for (const t of this.p.threads) {
      if (!t.open || (t.solo && t.jobs.size > 0) || (alone && (t.jobs.size > 0 || t.queued.length > 0))) continue;
      if (!best || t.jobs.size + t.queued.length < best.jobs.size + best.queued.length) best = t;
    }
    return best;
  }

  /** Forgets a job: off its host, its timers cleared; a retiring host with nothing left ends. */
  untrack(entry: Inflight): void {
    const p = this.p;
    const t = entry.thread;
    if (t.solo) {
      t.solo = false;
      p.suspects.delete(entry.job.id);
    }
    if (p.lastChance === entry.job.id) p.lastChance = null;
    this.deadlines.remove(entry);
    if (entry.grace) clearTimeout(entry.grace);
    p.inflight.delete(entry.job.id);
    if (entry.phase === 'backlog') {
      const i = t.queued.indexOf(entry.job.id);
      if (i >= 0) t.queued.splice(i, 1);
    } else {
      t.jobs.delete(entry.job.id);
    }
    if (t.retiring && t.jobs.size === 0 && t.queued.length === 0) void t.terminate();
    p.wake();
  }

  onMessage(thread: SlotHost, m: FromThread): void {
    const p = this.p;
    if (m.t === 'done') {
      const endings = p.parts.endings;
      const { ids, values, failed, dropped } = m;
      let f = 0;
      let d = 0;
      for (let i = 0; i < ids.length; i++) {
        const ok = f >= failed.length || failed[f] !== i;
        if (!ok) f++;
        const wasDropped = !ok && d < dropped.length && dropped[d] === i;
        if (wasDropped) d++;
        const entry = p.inflight.get(ids[i]);
        if (!entry || entry.thread !== thread) continue;
        if (entry.phase === 'backlog') {
          // Dropped from the backlog, or it ran in a slot that freed before the pool knew of it.
          if (wasDropped) { this.unqueue([entry]); continue; }
          this.begin(entry);
        }
        if (entry.fate === 'written') { this.untrack(entry); continue; }
        endings.settle(entry, ok ? { ok: true, result: values[i] } : { ok: false, kind: 'error', error: values[i] as JobError });
      }
      this.promote(thread);
    } else if (m.t === 'recalled') {
      thread.recalling = false;
      const back: Inflight[] = [];
      for (const id of m.ids) {
        const entry = p.inflight.get(id);
        if (entry && entry.thread === thread && entry.phase === 'backlog') back.push(entry);
      }
      this.unqueue(back);
    } else if (m.t === 'ready') {
      thread.ready = true;
      for (const id of thread.jobs) {
        const entry = p.inflight.get(id);
        if (entry && entry.deadline === 0) this.startTimer(entry);
      }
    } else if (m.t === 'log') {
      p.d.logger[m.level](`[thread ${thread.threadId}] ${m.message}`);
    }
  }
}
