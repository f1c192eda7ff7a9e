/** Retry delays: fixed, or exponential with full jitter (so retries of many jobs do not stampede). */
import type { JobOptions } from '../../sdk/plugin.ts';

/** Delay in ms before the retry that follows failed attempt number `attempt` (1-based). */
export function retryDelayMs(options: Pick<JobOptions, 'retryDelaySecs' | 'backoff'>, attempt: number, random = Math.random): number {
  const base = options.retryDelaySecs * 1000;
  if (options.backoff !== 'exponential') return base;
  const cap = Math.min(base * 2 ** Math.max(0, attempt - 1), 24 * 3600 * 1000);
  // "equal jitter": at least half the exponential step, so delays still grow
  return Math.round(cap / 2 + random() * (cap / 2));
}
