/** Messages between the pool (main thread) and a worker thread. Values cross by structured clone. */
import type { JobError } from '../../sdk/plugin.ts';

export interface RunMessage {
  id: string;
  taskName: string;
  moduleUrl: string | null;
  exportName: string | null;
  args: unknown[];
  attempt: number;
}

/** `dropped`: the job never started: it waited in the thread's backlog and was aborted there. */
export type DoneMessage =
  | { t: 'done'; id: string; ok: true; result: unknown }
  | { t: 'done'; id: string; ok: false; error: JobError; dropped?: true };

/**
 * Jobs and outcomes travel in batches: one postMessage per batch, not per job. A thread runs at most
 * `limit` jobs at once; jobs sent beyond that wait in its backlog, in order, and start as slots free
 * (right after the thread posts the outcomes that freed them, so the pool can tell which started).
 * `recall` hands the backlog back (`recalled`), after any outcomes not yet posted.
 */
export type ToThread =
  | { t: 'run'; runs: RunMessage[]; limit: number }
  /**
   * `onError`: run the task's onError hook now, with the abort's error (a timeout that fails or
   * retries the job), since the thread may be ended before the task itself throws.
   */
  | { t: 'abort'; id: string; reason: 'timeout' | 'cancel' | 'shutdown'; onError?: true }
  | { t: 'recall' };

export type FromThread =
  | { t: 'ready'; threadId: number }
  | { t: 'done'; outcomes: DoneMessage[] }
  | { t: 'recalled'; ids: string[] }
  | { t: 'log'; level: 'warn' | 'error'; message: string };
