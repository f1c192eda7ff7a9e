/**
 * The hook bus: a frozen, typed table of tapable hooks. Pipeline hooks rethrow (a tap that throws
 * stops the pipeline and the caller sees a NuvomError naming the plugin and hook). Observer hooks
 * isolate a failing tap: it is reported once through the logger, counted, and the other taps and the
 * job carry on. Plugins may publish hooks of their own with `publish`.
 * Must never: know which plugin provides what, or await observers on a hot path.
 */
import { AsyncParallelHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';
import type { Command } from 'commander';
import type { ClaimedJob, JobError, Logger, QueuedJob } from './contracts.ts';
import { NuvomError, isNuvomError, messageOf } from './errors.ts';


/** Tap stages: lower runs earlier. */
export const STAGES = Object.freeze({ EARLY: -100, NORMAL: 0, LATE: 100 });

/** What every job event carries. Times are epoch ms. */
export interface JobEvent {
  jobId: string;
  taskName: string;
  attempt: number;
  at: number;
  workerId?: string;
  threadId?: number;
  /** Time from becoming claimable (runAt) to start, on `jobStarted`. */
  waitMs?: number;
  /** Run time, on outcome events. */
  runMs?: number;
  error?: JobError;
  /** When a retry will run, on `jobRetryScheduled`. */
  nextRunAt?: number;
  /** For `jobCancelled`: where the job was. */
  phase?: 'queued' | 'running';
}

export interface ThreadEvent {
  workerId: string;
  threadId: number;
  at: number;
  reason?: string;
}

export interface WorkerEvent {
  workerId: string;
  at: number;
  threads: number;
  concurrency: number;
}

/** A snapshot the worker pool publishes periodically, for gauges and status lines. */
export interface PoolStats {
  workerId: string;
  at: number;
  threads: number;
  busyThreads: number;
  running: number;
  done: number;
  failed: number;
}

/**
 * A worker's storage call failed (`storageError`), or a write worked again after failures
 * (`storageRecovered`, without `message`). `code` is the underlying one when known (SQLITE_FULL,
 * ENOSPC, SQLITE_BUSY), else the NuvomError's.
 */
export interface StorageEvent {
  workerId: string;
  at: number;
  /** What the worker was doing: `claim`, `record` (outcomes), `renew` (leases). */
  op: 'claim' | 'record' | 'renew';
  code?: string;
  message?: string;
}

export interface CliContext {
  program: Command;
}

export type RetryDecision = { retry: boolean; delayMs: number };

type Tap = { name: string; fn: (...args: unknown[]) => unknown; type: string };

function makeHooks() {
  return {
    // pipeline hooks
    /** Each tap receives the job about to be enqueued and returns it (possibly changed); throw to refuse. */
    enqueue: new AsyncSeriesWaterfallHook<[QueuedJob]>(['job']),
    /** Decide whether a failed attempt is retried; taps may change the decision. */
    retryDecision: new AsyncSeriesWaterfallHook<[RetryDecision, ClaimedJob, JobError]>(['decision', 'job', 'error']),
    /** CLI plugins add their commands to the program. */
    cli: new SyncHook<[CliContext]>(['ctx']),
    // observer hooks
    jobEnqueued: new AsyncParallelHook<[JobEvent]>(['event']),
    jobClaimed: new AsyncParallelHook<[JobEvent]>(['event']),
    jobStarted: new AsyncParallelHook<[JobEvent]>(['event']),
    jobSucceeded: new AsyncParallelHook<[JobEvent]>(['event']),
    jobFailed: new AsyncParallelHook<[JobEvent]>(['event']),
    jobRetryScheduled: new AsyncParallelHook<[JobEvent]>(['event']),
    jobTimedOut: new AsyncParallelHook<[JobEvent]>(['event']),
    jobCancelled: new AsyncParallelHook<[JobEvent]>(['event']),
    jobRedelivered: new AsyncParallelHook<[JobEvent]>(['event']),
    threadStarted: new AsyncParallelHook<[ThreadEvent]>(['event']),
    threadStopped: new AsyncParallelHook<[ThreadEvent]>(['event']),
    threadReplaced: new AsyncParallelHook<[ThreadEvent]>(['event']),
    workerStarted: new AsyncParallelHook<[WorkerEvent]>(['event']),
    workerStopped: new AsyncParallelHook<[WorkerEvent]>(['event']),
    poolStats: new AsyncParallelHook<[PoolStats]>(['stats']),
    storageError: new AsyncParallelHook<[StorageEvent]>(['event']),
    storageRecovered: new AsyncParallelHook<[StorageEvent]>(['event']),
  };
}

export type KernelHooks = ReturnType<typeof makeHooks>;
export type PipelineHookName = 'enqueue' | 'retryDecision' | 'cli';
export type ObserverHookName = Exclude<keyof KernelHooks, PipelineHookName>;
const PIPELINE: ReadonlySet<string> = new Set<PipelineHookName>(['enqueue', 'retryDecision', 'cli']);

interface AnyHook {
  intercept(i: { register?: (tap: Tap) => Tap }): void;
  isUsed(): boolean;
  promise?(...args: unknown[]): Promise<unknown>;
  call?(...args: unknown[]): unknown;
}

export class HookBus {
  readonly hooks: Readonly<KernelHooks>;
  private readonly customHooks = new Map<string, { hook: AnyHook; kind: 'pipeline' | 'observer'; owner: string }>();
  private readonly reported = new Map<string, number>();

  constructor(private readonly logger: Logger) {
    const hooks = makeHooks();
    for (const [name, hook] of Object.entries(hooks)) {
      this.wrap(name, hook as unknown as AnyHook, PIPELINE.has(name) ? 'pipeline' : 'observer');
    }
    this.hooks = Object.freeze(hooks);
  }

  /** Publishes a plugin's own hook so other plugins can tap it through `custom(name)`. */
  publish<H>(owner: string, name: string, hook: H, kind: 'pipeline' | 'observer'): H {
    if (name in this.hooks || this.customHooks.has(name)) {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `hook "${name}" is already declared; pick another name (prefix it with your plugin's name)`, { plugin: owner });
    }
    this.wrap(name, hook as unknown as AnyHook, kind);
    this.customHooks.set(name, { hook: hook as unknown as AnyHook, kind, owner });
    return hook;
  }

  /** A hook published by a plugin. */
  custom<H>(name: string): H {
    const entry = this.customHooks.get(name);
    if (!entry) {
      const known = [...this.customHooks.keys()];
      throw new NuvomError('NUVOM_E_HOOK_UNKNOWN', `no plugin published a hook named "${name}"${known.length ? `; published: ${known.join(', ')}` : ''}`);
    }
    return entry.hook as unknown as H;
  }

  /** Fires an observer hook without awaiting it; returns at once when nobody listens. */
  emit<K extends ObserverHookName>(name: K, event: Parameters<KernelHooks[K]['promise']>[0]): void {
    const hook = this.hooks[name] as unknown as AnyHook;
    if (!hook.isUsed()) return;
    void hook.promise!(event);
  }

  /** How many times each plugin's observer taps threw, keyed "plugin/hook". */
  failures(): Record<string, number> {
    return Object.fromEntries(this.reported);
  }

  private wrap(hookName: string, hook: AnyHook, kind: 'pipeline' | 'observer'): void {
    hook.intercept({
      register: (tap: Tap) => {
        const original = tap.fn;
        const plugin = tap.name;
        if (kind === 'pipeline') {
          const rethrow = (err: unknown): never => {
            if (isNuvomError(err) && err.plugin) throw err;
            throw new NuvomError(isNuvomError(err) ? err.code : 'NUVOM_E_HOOK', messageOf(err), { plugin, hook: hookName, cause: err });
          };
          if (tap.type === 'promise') {
            tap.fn = (...args: unknown[]) => {
              try {
                return (original(...args) as Promise<unknown>).then(undefined, rethrow);
              } catch (err) {
                return rethrow(err);
              }
            };
          } else if (tap.type === 'sync') {
            tap.fn = (...args: unknown[]) => {
              try { return original(...args); } catch (err) { return rethrow(err); }
            };
          }
          return tap;
        }
        // observer: never let a tap's failure reach the caller or the other taps
        const report = (err: unknown) => this.report(plugin, hookName, err);
        if (tap.type === 'async') {
          tap.fn = (...args: unknown[]) => {
            const cb = args.pop() as (err?: unknown) => void;
            try {
              original(...args, (err?: unknown) => { if (err) report(err); cb(); });
            } catch (err) { report(err); cb(); }
          };
        } else {
          tap.fn = (...args: unknown[]) => {
            try {
              const out = original(...args);
              if (out && typeof (out as Promise<unknown>).then === 'function') {
                return (out as Promise<unknown>).then(() => undefined, report);
              }
              return tap.type === 'promise' ? Promise.resolve() : undefined;
            } catch (err) {
              report(err);
              return tap.type === 'promise' ? Promise.resolve() : undefined;
            }
          };
        }
        return tap;
      },
    });
  }

  private report(plugin: string, hook: string, err: unknown): void {
    const key = `${plugin}/${hook}`;
    const n = (this.reported.get(key) ?? 0) + 1;
    this.reported.set(key, n);
    if (n === 1) {
      this.logger.error(`[plugin "${plugin}", hook "${hook}"] observer tap threw: ${messageOf(err)} (further failures of this tap are counted, not logged; jobs keep running)`, {
        code: 'NUVOM_E_HOOK', plugin, hook,
      });
    }
  }
}
