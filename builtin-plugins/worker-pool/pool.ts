/**
 * The worker pool: claims batches under a lease, hands jobs to hosts (worker threads, up to
 * `concurrency` jobs per thread; or the worker's own thread with `threads: 0`), renews leases,
 * enforces timeouts (abort, then terminate the thread after a grace period and start a fresh one),
 * hands outcomes to the recorder, and drains on stop. This file wires the parts:
 *   claimer.ts     claiming and the buffer          slots.ts       dispatch to hosts' slots
 *   endings.ts     abort, grace, settle, give back  leases.ts      lease keeping, cancel checks
 *   supervisor.ts  hosts: start, crash, replace     drain.ts       stop
 *   outcomes.ts    recording outcomes (batched)     store.ts       every storage call
 *   state.ts       what the parts share (the in-flight job's state type)
 * Must never: run user code on the main thread unless asked to (`threads: 0`); renew leases from a job's thread.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { NuvomError, errorOf, messageOf, type RunningWorker } from '../../sdk/plugin.ts';
import { Claimer } from './claimer.ts';
import { drain } from './drain.ts';
import { Endings } from './endings.ts';
import { LeaseKeeper } from './leases.ts';
import { listened, OutcomeRecorder } from './outcomes.ts';
import { Slots } from './slots.ts';
import { PoolState } from './state.ts';
import { type PoolDeps, type PoolOptions } from './options.ts';
import { PoolStore } from './store.ts';
import { Supervisor } from './supervisor.ts';

export type { PoolDeps, PoolOptions };

export class WorkerPool implements RunningWorker {
  readonly id: string;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;
  /** Why the worker ended on its own (a burst run's failed claim, NUVOM_E_WORKER_CRASHED): `done` rejects with it. */
  private failure: unknown = null;
  private readonly p: PoolState;
  private statsTimer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  /** Settles when the claim loop has returned (a claim on its way when stop() came included). */
  private claiming: Promise<void> = Promise.resolve();
  /** Ends stop()'s wait for the claim loop (a forced stop while a graceful one waits). */
  private endClaimWait: (() => void) | null = null;

  constructor(private readonly d: PoolDeps, opts: PoolOptions = {}) {
    this.id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const nThreads = opts.threads ?? d.config.maxWorkers;
    const concurrency = opts.concurrency ?? d.config.concurrency;
    const batchSize = opts.batchSize ?? d.config.batchSize;
    if (!Number.isInteger(nThreads) || nThreads < 0) throw new NuvomError('NUVOM_E_CONFIG', `worker option threads must be a whole number >= 0 (0 runs jobs in-process), got ${nThreads}`);
    for (const [k, v] of Object.entries({ concurrency, batchSize })) {
      if (!Number.isInteger(v) || v < 1) throw new NuvomError('NUVOM_E_CONFIG', `worker option ${k} must be a whole number >= 1, got ${v}`);
    }
    // Whole milliseconds: lease expiries are bigint on PostgreSQL (visibilityTimeoutSecs 30.0005 failed every claim).
    const leaseMs = Math.ceil(d.config.visibilityTimeoutSecs * 1000);
    const settings = { nThreads, concurrency, batchSize, graceMs: opts.graceMs ?? 1000, leaseMs, leaseMarginMs: Math.min(2000, leaseMs / 5) };
    const p = new PoolState(d, opts, this.id, settings, new PoolStore(d.store, this.id, d.bus));
    p.parts = {
      claimer: new Claimer(p),
      slots: new Slots(p),
      endings: new Endings(p),
      leases: new LeaseKeeper(p),
      supervisor: new Supervisor(p),
      outcomes: new OutcomeRecorder({ store: p.store, serializer: d.serializer, bus: d.bus, logger: d.logger }, this.id, p.counters, (retryAt) => {
        if (retryAt !== undefined) p.retriesUntil = Math.max(p.retriesUntil, retryAt);
        p.wake();
      }, () => p.inflight.size > 0),
    };
    p.halt = (why) => {
      if (p.stopping) return;
      d.logger.error(why, { code: 'NUVOM_E_WORKER_CRASHED' });
      // The worker stopped itself: `done` rejects, so runworker exits 1 (a supervisor restarts it).
      this.failure ??= new NuvomError('NUVOM_E_WORKER_CRASHED', why);
      void this.stop();
    };
    this.p = p;
    this.done = new Promise((resolve, reject) => { this.resolveDone = resolve; this.rejectDone = reject; });
    // Only a caller that awaits `done` sees a failure: nobody else must get an unhandled rejection.
    this.done.catch(() => undefined);
  }

  async start(): Promise<this> {
    const { p, d } = this;
    p.parts.supervisor.spawnAll();
    this.unsubscribe = p.store.subscribe(() => {
      p.parts.claimer.signal();
      // A change may be a cancel request for a job this worker holds: look now, not at the next renewal.
      p.parts.leases.checkCancelsIfHolding();
    });
    p.parts.leases.start();
    this.statsTimer = setInterval(() => {
      if (listened(d.bus.hooks.poolStats)) d.bus.emit('poolStats', { workerId: this.id, at: Date.now(), ...this.stats() });
    }, 1000);
    this.statsTimer.unref();
    d.bus.emit('workerStarted', { workerId: this.id, at: Date.now(), threads: p.s.nThreads, concurrency: p.s.concurrency });
    const loop = p.parts.claimer.loop();
    this.claiming = loop.then(() => undefined, () => undefined);
    void loop.then(() => {
      if (!p.stopping) return this.stop();
    }).catch((err) => {
      // A burst run's failed claim: its running jobs drain as on stop(), and `done` rejects.
      if (p.opts.burst === true) {
        this.failure = err;
        return this.stop();
      }
      d.logger.error(`worker loop stopped: ${messageOf(err)}`, { code: (err as NuvomError).code });
      this.failure ??= new NuvomError('NUVOM_E_WORKER_CRASHED', `worker loop stopped: ${messageOf(err)}`, { cause: err });
      void this.stop({ force: true });
    });
    return this;
  }

  stats() {
    const { p } = this;
    let threads = 0;
    let busyThreads = 0;
    for (const t of p.threads) {
      if (t.retiring || t.doomed) continue;
      threads++;
      if (t.jobs.size > 0) busyThreads++;
    }
    return { threads, busyThreads, running: p.inflight.size - p.parts.slots.queuedCount(), ...p.counters };
  }

  /** Loads task modules afresh (dev mode): see Supervisor.reload. */
  async reload(): Promise<void> {
    this.p.parts.supervisor.reload();
  }

  /** Waits until every finished job is recorded and acked. */
  flush(): Promise<void> {
    return this.p.parts.outcomes.flush();
  }

  /** Stops claiming, lets running jobs finish within the drain period, returns the rest to the queue. */
  async stop(opts: { force?: boolean } = {}): Promise<void> {
    const { p } = this;
    if (p.stopping) {
      if (opts.force) {
        this.endClaimWait?.();
        for (const e of p.inflight.values()) if (e.phase === 'running') p.parts.endings.abort(e, 'shutdown');
      }
      // Stopped (or stopping) already: resolves once stopped, even when `done` rejects with why it stopped itself.
      return this.done.catch(() => undefined);
    }
    p.stopping = true;
    p.wake();
    this.unsubscribe?.();
    // A claim on its way commits its leases: wait for it (bounded, for a store that hangs), so that its
    // jobs reach the buffer and go back to the queue with it, instead of waiting out their leases.
    // A forced stop that follows (a second signal) stops waiting.
    const forced = new Promise<void>((r) => { this.endClaimWait = r; });
    await Promise.race([untilOrAfter(this.claiming, opts.force === true ? p.s.graceMs : p.opts.drainMs ?? 10_000), forced]);
    this.endClaimWait = null;
    await drain(p, opts.force === true);
    clearInterval(this.statsTimer);
    this.d.bus.emit('workerStopped', { workerId: this.id, at: Date.now(), threads: p.s.nThreads, concurrency: p.s.concurrency });
    if (this.failure) this.rejectDone(this.failure);
    else this.resolveDone();
  }
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first. */
async function untilOrAfter(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

export { errorOf };
