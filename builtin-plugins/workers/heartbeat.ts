/**
 * The heartbeat writer: taps the worker pool's observer hooks (workerStarted, poolStats each second,
 * workerStopped) and writes each pool's heartbeat through the result store at a modest rate (at
 * start, then once a period), removing it when the pool stops. jobs/s is the pool's ended-job counter
 * over the time since the previous write.
 * Must never: slow the pool down (taps only start writes; a failed write is logged once and the next
 * period tries again), or write more often than once a period per pool.
 */
import { hostname } from 'node:os';
import { messageOf, type HeartbeatStore, type HookBus, type Logger, type ObserverEvents, type ResultStore, type WorkerHeartbeat } from '../../sdk/plugin.ts';

/** The worker pool's payloads, as it declares them (nuvom-worker-pool's `hooks`). */
type WorkerEvent = ObserverEvents['workerStarted'];
type PoolStats = ObserverEvents['poolStats'];
import { hasHeartbeats } from './view.ts';

interface Tracked {
  beat: WorkerHeartbeat;
  /** done + failed at the last write. */
  ended: number;
  lastWrite: number;
  stopped: boolean;
}

export class HeartbeatWriter {
  private readonly pools = new Map<string, Tracked>();
  private readonly pending = new Set<Promise<void>>();
  private warned = false;

  constructor(private readonly store: () => ResultStore, private readonly periodMs: number, private readonly logger: Logger) {}

  tap(hooks: HookBus['hooks'], name: string): void {
    hooks.workerStarted.tap(name, (e: WorkerEvent) => this.started(e));
    hooks.poolStats.tap(name, (s: PoolStats) => this.stats(s));
    hooks.workerStopped.tap(name, (e: WorkerEvent) => this.stopped(e.workerId));
  }

  private started(e: WorkerEvent): void {
    const beat: WorkerHeartbeat = {
      workerId: e.workerId, host: hostname(), pid: process.pid, threads: e.threads, busyThreads: 0, jobsPerSec: 0,
      startedAt: e.at, lastBeatAt: e.at, periodMs: this.periodMs,
    };
    this.pools.set(e.workerId, { beat, ended: 0, lastWrite: e.at, stopped: false });
    this.run((s) => s.putHeartbeat(beat));
  }

  private stats(p: PoolStats): void {
    const t = this.pools.get(p.workerId);
    if (!t || t.stopped || p.at - t.lastWrite < this.periodMs) return;
    const ended = p.done + p.failed;
    const secs = (p.at - t.lastWrite) / 1000;
    t.beat = { ...t.beat, threads: p.threads, busyThreads: p.busyThreads, jobsPerSec: secs > 0 ? Math.max(0, ended - t.ended) / secs : 0, lastBeatAt: p.at };
    t.ended = ended;
    t.lastWrite = p.at;
    const beat = t.beat;
    this.run((s) => s.putHeartbeat(beat));
  }

  private stopped(workerId: string): void {
    const t = this.pools.get(workerId);
    if (!t) return;
    t.stopped = true;
    this.pools.delete(workerId);
    this.run((s) => s.removeHeartbeat(workerId));
  }

  /** Removes the rows of pools still running (the kernel stops before them) and waits for every write. */
  async close(): Promise<void> {
    for (const id of [...this.pools.keys()]) this.stopped(id);
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private run(write: (s: HeartbeatStore) => Promise<void>): void {
    let store: ResultStore;
    try { store = this.store(); } catch (err) { return this.fail(err); }
    if (!hasHeartbeats(store)) return;
    // Writes run one after another, so a remove never overtakes the pool's last put.
    const prev = [...this.pending].at(-1) ?? Promise.resolve();
    const p: Promise<void> = prev.then(() => write(store)).catch((err: unknown) => this.fail(err)).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private fail(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(`could not write a worker heartbeat: ${messageOf(err)}; \`nuvom workers\` may show this worker as stale until a write succeeds (further failures are not logged)`, { code: 'NUVOM_E_STORAGE' });
  }
}
