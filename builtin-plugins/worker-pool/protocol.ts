/** Messages between the pool (main thread) and a worker thread. Values cross by structured clone. */
import type { JobError } from '../../sdk/plugin.ts';

export interface RunMessage {
  t: 'run';
  id: string;
  taskName: string;
  moduleUrl: string | null;
  exportName: string | null;
  args: unknown[];
  attempt: number;
}

export type ToThread = RunMessage | { t: 'abort'; id: string; reason: 'timeout' | 'cancel' | 'shutdown' };

export type FromThread =
  | { t: 'ready'; threadId: number }
  | { t: 'done'; id: string; ok: true; result: unknown }
  | { t: 'done'; id: string; ok: false; error: JobError }
  | { t: 'log'; level: 'warn' | 'error'; message: string };
