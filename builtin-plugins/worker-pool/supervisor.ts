/**
 * Crash supervision: starts the pool's hosts (worker threads, or one in-process host for
 * `threads: 0`), replaces a thread that died or had to be ended, decides what becomes of the jobs it
 * ran, and swaps threads for a dev reload.
 * A thread that ends before it loaded its runner (it failed to start) ran none of its jobs: they go
 * back, none counted as a crash; after START_FAILURES such threads in a row the worker stops.
 * Must never: blame one job for a thread it shared with others (they become suspects, each run alone),
 * or for a thread that never started; replace threads that cannot start without end.
 */
import type { FromThread } from './protocol.ts';
import type { Inflight, PoolState } from './state.ts';
import { InlineThread, Thread, type SlotHost } from './threads.ts';

/** Threads in a row that end before loading their runner, after which the worker stops instead of starting another. */
export const START_FAILURES = 3;

export class Supervisor {
  /** Threads in a row that ended before they were ready (reset once one is). */
  private failedStarts = 0;

  constructor(private readonly p: PoolState) {}

  /** In-process mode: jobs run on the pool's own thread. */
  get inline(): boolean {
    return this.p.s.nThreads === 0;
  }

  /** The hosts a pool starts with: `threads` worker threads, or one in-process host. */
  spawnAll(): void {
    const n = this.inline ? 1 : this.p.s.nThreads;
    for (let i = 0; i < n; i++) this.spawn();
  }

  private spawn(): SlotHost {
    const p = this.p;
    const opts = {
      memoryLimitMb: p.opts.memoryLimitMb,
      onMessage: (m: FromThread) => p.parts.slots.onMessage(thread, m),
      onExit: (code: number) => this.onExit(thread, code),
    };
    const thread: SlotHost = this.inline ? new InlineThread(opts) : new Thread(opts);
    p.threads.push(thread);
    p.d.bus.emit('threadStarted', { workerId: p.id, threadId: thread.threadId, at: Date.now() });
    return thread;
  }

  private onExit(thread: SlotHost, code: number): void {
    const p = this.p;
    const { slots, endings } = p.parts;
    const i = p.threads.indexOf(thread);
    if (i >= 0) p.threads.splice(i, 1);
    const reason = thread.lastError ? `${thread.lastError.name}: ${thread.lastError.message}` : `exit code ${code}`;
    p.d.bus.emit('threadStopped', { workerId: p.id, threadId: thread.threadId, at: Date.now(), reason });
    // Its backlog never started: back to the buffer (or the queue, when stopping), not suspects.
    const backlog: Inflight[] = [];
    for (const id of thread.queued) {
      const e = p.inflight.get(id);
      if (e && e.thread === thread) backlog.push(e);
    }
    slots.unqueue(backlog);
    if (!thread.ready && !thread.inline) {
      this.neverStarted(thread, reason);
      return;
    }
    this.failedStarts = 0;
    const shared = [...thread.jobs].filter((id) => !p.inflight.get(id)?.abort).length > 1;
    if (shared) p.d.logger.warn(`worker thread ${thread.threadId} died (${reason}) running ${thread.jobs.size} jobs; they go back to the queue`);
    for (const id of [...thread.jobs]) {
      const entry = p.inflight.get(id);
      if (!entry) continue;
      if (entry.abort) {
        endings.settle(entry, { ok: false, kind: entry.abort === 'cancel' ? 'cancel' : entry.abort === 'timeout' ? 'timeout' : 'crash', error: endings.abortError(entry) });
      } else if (shared) {
        // Several jobs shared the thread and nothing tells which one ended it: all go back to the
        // queue (the attempt counts) as suspects, which this pool then runs each alone in a thread,
        // so the culprit fails by itself. Elsewhere, the delivery cap (see claimer.ts) bounds it.
        p.suspects.add(id);
        endings.release(entry);
      } else {
        endings.settle(entry, { ok: false, kind: 'crash', error: { name: 'NuvomError', message: `the worker thread running this job died (${reason}); if the task calls process.exit or exhausts memory, fix the task`, stack: null } });
      }
    }
    if (!p.stopping && !thread.retiring) {
      const fresh = this.spawn();
      p.d.bus.emit('threadReplaced', { workerId: p.id, threadId: fresh.threadId, at: Date.now(), reason });
      p.wake();
    }
  }

  /**
   * A thread ended before it loaded its runner: none of its jobs started, so they go back like a
   * backlog (to a fresh thread, or to the queue with their claim's attempt taken back when stopping),
   * and one cancelled meanwhile ends cancelled. A fresh thread replaces it, unless START_FAILURES
   * threads in a row failed so: then the worker stops (its jobs go back to the queue) and says why.
   */
  private neverStarted(thread: SlotHost, reason: string): void {
    const p = this.p;
    const { slots, endings } = p.parts;
    const back: Inflight[] = [];
    for (const id of [...thread.jobs]) {
      const entry = p.inflight.get(id);
      if (!entry) continue;
      if (entry.abort === 'cancel') endings.settle(entry, { ok: false, kind: 'cancel', error: endings.abortError(entry) });
      else back.push(entry);
    }
    slots.unqueue(back);
    if (p.stopping || thread.retiring) return;
    // A thread that started since the last failure breaks the row.
    if (p.threads.some((t) => t.ready)) this.failedStarts = 0;
    if (++this.failedStarts >= START_FAILURES) {
      p.halt(`${this.failedStarts} worker threads in a row ended before they started (${reason}); stopping the worker, its jobs go back to the queue; a memory limit too low for Node to start a thread (NUVOM_MEMORY_LIMIT_MB, --memory-limit-mb) or a broken install does this`);
      return;
    }
    const fresh = this.spawn();
    p.d.bus.emit('threadReplaced', { workerId: p.id, threadId: fresh.threadId, at: Date.now(), reason });
    p.wake();
  }

  async replaceThread(thread: SlotHost, why: string): Promise<void> {
    const p = this.p;
    p.d.logger.warn(`terminating worker thread ${thread.threadId}: ${why}`);
    // No new job may land on a thread that is about to end (the released neighbours below included).
    thread.doomed = true;
    // Jobs sharing the thread with the runaway are innocent: give them back to the queue first.
    // Several timed out together (a CPU loop froze the thread, so every job on it ran past its
    // timeout, and none could answer its abort): nothing tells which one looped. They all go back
    // as suspects, which this pool runs each alone, so the runaway times out by itself (as a crash's
    // neighbours do); a cancelled job stays cancelled.
    const entries = [...thread.jobs].map((id) => p.inflight.get(id)).filter((e): e is NonNullable<typeof e> => e !== undefined);
    const timedOut = entries.filter((e) => e.abort === 'timeout');
    for (const entry of entries) {
      if (!entry.abort) p.parts.endings.release(entry);
      else if (entry.abort === 'timeout' && timedOut.length > 1) {
        p.suspects.add(entry.job.id);
        p.parts.endings.release(entry);
      }
    }
    if (timedOut.length > 1) p.d.logger.warn(`${timedOut.length} jobs on thread ${thread.threadId} timed out together while it was frozen; each runs again alone, so the one that does not stop fails by itself`);
    await thread.terminate();
  }

  /**
   * Loads task modules afresh (dev mode): new threads take new jobs at once, while the old threads
   * finish the jobs they run and then end. An ES module cannot be unloaded from a thread, so a
   * reload is a thread swap; no running job is dropped. In-process, modules cannot be reloaded.
   */
  reload(): void {
    const p = this.p;
    if (this.inline) {
      p.d.logger.warn('reload: task modules cannot be reloaded in-process (threads 0); restart the worker to load changed code');
      return;
    }
    const old = p.threads.filter((t) => !t.retiring && !t.exited);
    for (const t of old) t.retiring = true;
    for (let i = 0; i < p.s.nThreads; i++) this.spawn();
    for (const t of old) {
      if (t.jobs.size === 0 && t.queued.length === 0) void t.terminate();
      else p.parts.slots.recall(t);
    }
    p.wake();
  }
}
