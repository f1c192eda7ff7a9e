/**
 * The worker pool's own hooks, declared through the plugin protocol (`hooks` in the definition) like
 * any third party's, and typed for every plugin that taps them by augmenting nuvom/plugin. Names and
 * payloads are the ones prometheus, event-log, the dashboard and users tap (docs/monitoring.md).
 * Must never: hold pool logic; this is the declaration only.
 */
import type { HookKind } from '../../sdk/plugin.ts';

/** A worker thread started, stopped, or was replaced (after a crash or a memory limit). */
export interface ThreadEvent {
  workerId: string;
  threadId: number;
  at: number;
  reason?: string;
}

/** A worker (one pool) started or stopped. */
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

declare module '../../sdk/plugin.ts' {
  interface ObserverEvents {
    threadStarted: ThreadEvent;
    threadStopped: ThreadEvent;
    threadReplaced: ThreadEvent;
    workerStarted: WorkerEvent;
    workerStopped: WorkerEvent;
    poolStats: PoolStats;
  }
}

export const POOL_HOOKS = {
  threadStarted: 'observer',
  threadStopped: 'observer',
  threadReplaced: 'observer',
  workerStarted: 'observer',
  workerStopped: 'observer',
  poolStats: 'observer',
} as const satisfies Record<string, HookKind>;
