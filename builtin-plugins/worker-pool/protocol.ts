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

export type DoneMessage =
  | { t: 'done'; id: string; ok: true; result: unknown }
  | { t: 'done'; id: string; ok: false; error: JobError };

/** Jobs and outcomes travel in batches: one postMessage per batch, not per job. */
export type ToThread =
  | { t: 'run'; runs: RunMessage[] }
  | { t: 'abort'; id: string; reason: 'timeout' | 'cancel' | 'shutdown' };

export type FromThread =
  | { t: 'ready'; threadId: number }
  | { t: 'done'; outcomes: DoneMessage[] }
  | { t: 'log'; level: 'warn' | 'error'; message: string };
