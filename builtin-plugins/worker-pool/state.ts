/**
 * What the pool's parts share: the jobs it holds (buffered, or in flight on a host), its hosts, its
 * settings, and the explicit state of an in-flight job. Each part (claimer, slots, endings, leases,
 * supervisor, drain) reads and changes this, and calls the others through `parts`.
 * Must never: hold a job in two places at once (the buffer, `inflight`), or in flight on no host.
 */
import type { ClaimedJob } from '../../sdk/plugin.ts';
import type { PoolDeps, PoolOptions } from './options.ts';
import type { Timed } from './deadlines.ts';
import type { OutcomeRecorder } from './outcomes.ts';
import type { PoolStore } from './store.ts';
import type { SlotHost } from './threads.ts';
import type { Claimer } from './claimer.ts';
import type { Slots } from './slots.ts';
import type { Endings } from './endings.ts';
import type { LeaseKeeper } from './leases.ts';
import type { Supervisor } from './supervisor.ts';

export type { PoolDeps, PoolOptions } from './options.ts';

export type AbortReason = 'timeout' | 'cancel' | 'shutdown';

/** A claimed job, decoded and recorded RUNNING, waiting in the pool's buffer for a free slot. */
export interface Buffered {
  readonly job: ClaimedJob;
  readonly args: unknown[];
  readonly moduleUrl: string;
  readonly exportName: string | null;
}

/**
 * A job handed to a host. Three questions, each with its own field, instead of a flag per case:
 * where it is (`phase`), whether it was asked to stop and why (`abort`), and who writes its outcome
 * (`fate`). Every field is set at creation, so every entry has one shape.
 */
export interface Inflight extends Buffered, Timed {
  readonly thread: SlotHost;
  /**
   * `backlog`: sent ahead, waits in the host's backlog (not started, no timer) until a slot frees;
   * `running`: in a slot (its timer starts once the host is ready).
   */
  phase: 'backlog' | 'running';
  /** Why the job was aborted, if it was. */
  abort: AbortReason | null;
  /**
   * `open`: this pool writes its outcome when the host reports it; `written`: already written
   * (cancelled while in the backlog), the host's report is ignored; `lost`: another worker may hold
   * the job now, so this attempt's outcome must not be written.
   */
  fate: 'open' | 'written' | 'lost';
  startedAt: number;
  /** The timeout's deadline once its timer started (slots.ts, deadlines.ts), else 0. */
  deadline: number;
  grace: ReturnType<typeof setTimeout> | undefined;
}

export function inflightOf(b: Buffered, thread: SlotHost, phase: Inflight['phase']): Inflight {
  return {
    job: b.job, args: b.args, moduleUrl: b.moduleUrl, exportName: b.exportName, thread, phase,
    abort: null, fate: 'open', startedAt: Date.now(), deadline: 0, prevT: null, nextT: null, listT: null, grace: undefined,
  };
}

export interface PoolSettings {
  readonly nThreads: number;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly graceMs: number;
  readonly leaseMs: number;
  /** A lease this close to its end is checked with the queue before an outcome is written. */
  readonly leaseMarginMs: number;
}

export interface Parts {
  claimer: Claimer;
  slots: Slots;
  endings: Endings;
  leases: LeaseKeeper;
  supervisor: Supervisor;
  outcomes: OutcomeRecorder;
}

export class PoolState {
  readonly threads: SlotHost[] = [];
  readonly inflight = new Map<string, Inflight>();
  /** Claimed, recorded RUNNING, waiting for a free slot. */
  readonly buffer: Buffered[] = [];
  /** Jobs given back after a thread they shared died: each runs alone until it settles here. */
  readonly suspects = new Set<string>();
  /**
   * A job delivered once past its delivery cap (claimer.ts), given a last run alone in this process:
   * it waits first in the buffer until nothing else runs here, and nothing is claimed or started
   * until it settles. Its worker dying again then blames it alone.
   */
  lastChance: string | null = null;
  /** Storage writes in flight, which stop() waits for. */
  readonly releasing = new Set<Promise<unknown>>();
  readonly counters = { done: 0, failed: 0 };
  stopping = false;
  /** The latest runAt of a retry this worker scheduled: a burst run waits for its own retries. */
  retriesUntil = 0;
  parts!: Parts;
  /** Stops the worker for a reason it logs as an error (threads that cannot start): set by the pool. */
  halt: (why: string) => void = () => undefined;
  private wakeLoop: (() => void) | null = null;
  /** A wake that came while the loop was busy (claiming, flushing): the next sleep returns at once. */
  private wokenEarly = false;

  constructor(
    readonly d: PoolDeps,
    readonly opts: PoolOptions,
    readonly id: string,
    readonly s: PoolSettings,
    readonly store: PoolStore,
  ) {}

  /** Wakes the claim loop (a slot freed, new work, stopping). */
  wake(): void {
    const w = this.wakeLoop;
    this.wakeLoop = null;
    if (w) w();
    else this.wokenEarly = true;
  }

  /**
   * Resolves true when the time ran out, false when woken, also by a wake that came since the last
   * sleep (the last job of a burst run can end while the loop awaits a claim: without this its wake
   * was lost and the run ended a poll interval, 1 s, late).
   */
  sleep(ms: number): Promise<boolean> {
    if (this.wokenEarly) {
      this.wokenEarly = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wakeLoop = null; resolve(true); }, ms);
      this.wakeLoop = () => { clearTimeout(t); resolve(false); };
    });
  }

  /** Keeps a storage write in flight visible to stop(), which waits for all of them. */
  track(p: Promise<unknown>): void {
    this.releasing.add(p);
    void p.finally(() => this.releasing.delete(p));
  }
}
