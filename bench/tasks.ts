/**
 * Tasks the benchmarks run. Worker threads load them from this file through the module URL that
 * task() recorded, so a process that starts a worker imports this module first.
 * Must never: do I/O or anything with a variable cost; the numbers must measure nuvom, not the task.
 */
import { task } from '../sdk/index.ts';

/** Does nothing: the queue's own cost per job. Its SUCCESS record is still stored. */
export const noop = task({ name: 'bench.noop' }, () => {});

/** A fixed integer loop (no allocation): CPU-bound work to show thread scaling. */
export const cpu = task({ name: 'bench.cpu', timeoutSecs: 120 }, (iterations: number) => {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x * 31 + i) | 0;
  return x;
});

/**
 * Returns when its body started, as CLOCK_MONOTONIC milliseconds (process.hrtime), which every
 * process and thread on the host shares: the producer compares it with its own enqueue time.
 */
export const stamp = task({ name: 'bench.stamp' }, () => Number(process.hrtime.bigint()) / 1e6);
