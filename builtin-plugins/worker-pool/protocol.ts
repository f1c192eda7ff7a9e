/**
 * Messages between the pool and a host (a worker thread, or the in-process host). Values cross by
 * structured clone (between threads), which writes every object's keys again for each object: so a
 * batch is a few parallel arrays (one entry per job), not an object per job, and a task's module
 * URL travels once per batch (`tasks`), not once per job.
 */
import type { JobError } from '../../sdk/plugin.ts';

/** A task the jobs of a batch refer to by index. */
export interface TaskRef {
  taskName: string;
  moduleUrl: string | null;
  exportName: string | null;
}

/** One job of a run batch, as the runner keeps it. */
export interface RunMessage {
  id: string;
  task: TaskRef;
  args: unknown[];
  attempt: number;
}

/** Jobs to run: entry i of `ids`, `task` (an index into `tasks`), `args` and `attempts` is one job. */
export interface RunBatch {
  t: 'run';
  limit: number;
  tasks: TaskRef[];
  ids: string[];
  task: number[];
  args: unknown[][];
  attempts: number[];
}

/**
 * Outcomes: entry i of `ids` and `values` is one job: its result, or, where `failed` lists i, its
 * JobError. `dropped` lists the failures of jobs that never started (aborted in the host's backlog).
 */
export interface DoneBatch {
  t: 'done';
  ids: string[];
  values: unknown[];
  failed: number[];
  dropped: number[];
}

/**
 * Jobs and outcomes travel in batches: one message per batch, not per job. A host runs at most
 * `limit` jobs at once; jobs sent beyond that wait in its backlog, in order, and start as slots free
 * (right after the host posts the outcomes that freed them, so the pool can tell which started).
 * `recall` hands the backlog back (`recalled`), after any outcomes not yet posted.
 */
export type ToThread =
  | RunBatch
  /**
   * `onError`: run the task's onError hook now, with the abort's error (a timeout that fails or
   * retries the job), since the thread may be ended before the task itself throws.
   */
  | { t: 'abort'; id: string; reason: 'timeout' | 'cancel' | 'shutdown'; onError?: true }
  | { t: 'recall' }
  /**
   * In-process only: give up on a running job that ignored its abort past the grace period (it
   * cannot be terminated there): its slot frees, it is reported done with an AbortError, and its
   * late outcome is dropped.
   */
  | { t: 'abandon'; id: string };

export type FromThread =
  | { t: 'ready'; threadId: number }
  | DoneBatch
  | { t: 'recalled'; ids: string[] }
  | { t: 'log'; level: 'warn' | 'error'; message: string };

/** Collects outcomes into a DoneBatch. */
export class DoneBuilder {
  ids: string[] = [];
  values: unknown[] = [];
  failed: number[] = [];
  dropped: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  ok(id: string, result: unknown): void {
    this.ids.push(id);
    this.values.push(result);
  }

  fail(id: string, error: JobError, dropped = false): void {
    const i = this.ids.length;
    this.ids.push(id);
    this.values.push(error);
    this.failed.push(i);
    if (dropped) this.dropped.push(i);
  }

  /** The batch so far, and a fresh start. */
  take(): DoneBatch {
    const b: DoneBatch = { t: 'done', ids: this.ids, values: this.values, failed: this.failed, dropped: this.dropped };
    this.ids = []; this.values = []; this.failed = []; this.dropped = [];
    return b;
  }
}
