/** Re-exports of kernel contract types used by sdk/services.ts, plus the static task options shape. */
export type { JobRecord, JobStats, ListJobsFilter, ScheduleEntry, Trigger } from '../kernel/index.ts';
import type { Backoff, TimeoutPolicy } from '../kernel/index.ts';

/** Task options that can be known without running user code (no hooks). */
export interface TaskOptionsSnapshot {
  retries?: number;
  retryDelaySecs?: number;
  backoff?: Backoff;
  timeoutSecs?: number;
  timeoutPolicy?: TimeoutPolicy;
  storeResult?: boolean;
  priority?: number;
  tags?: string[];
  description?: string;
}
