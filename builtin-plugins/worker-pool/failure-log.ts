/**
 * One WARN line per failed or retried attempt (task, id, attempt, the error's first line), so a
 * failing task is visible in the worker's own log. Rate-limited: at most `perWindow` lines per
 * `windowMs`; past that, attempts are counted and one summary line says how many were not logged.
 * Must never: throw, or keep the process alive (the summary timer is unref'd).
 */
import type { JobError, Logger } from '../../sdk/plugin.ts';

export interface FailedAttempt {
  taskName: string;
  jobId: string;
  attempt: number;
  error: JobError;
  /** What happens next: 'retry' (with the delay) or 'failed' (for good). */
  next: { retry: true; delayMs: number } | { retry: false };
}

/** The first line of a message, cut to a length a log line can carry. */
export function firstLine(message: string, max = 200): string {
  const line = message.split(/\r?\n/, 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export class FailureLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly logger: Logger, private readonly perWindow = 10, private readonly windowMs = 10_000) {}

  attempt(a: FailedAttempt, now = Date.now()): void {
    if (now - this.windowStart >= this.windowMs) {
      this.summary();
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perWindow) {
      this.suppressed++;
      // Say how many went unlogged once the window ends, even if no failure follows.
      if (!this.timer) {
        this.timer = setTimeout(() => { this.timer = null; this.summary(); }, Math.max(1, this.windowStart + this.windowMs - now));
        this.timer.unref();
      }
      return;
    }
    this.inWindow++;
    const what = a.next.retry ? `failed, retrying in ${Math.round(a.next.delayMs)} ms` : 'failed for good';
    const err = `${a.error.name}: ${firstLine(a.error.message)}`;
    this.logger.warn(`job ${a.jobId} (task ${a.taskName}) attempt ${a.attempt} ${what}: ${err}`, { jobId: a.jobId, task: a.taskName, attempt: a.attempt });
  }

  /** Logs the count of attempts not logged since the last summary. */
  summary(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.suppressed === 0) return;
    const n = this.suppressed;
    this.suppressed = 0;
    this.logger.warn(`${n} more failed attempt(s) not logged in the last ${Math.round(this.windowMs / 1000)} s (at most ${this.perWindow} lines per ${Math.round(this.windowMs / 1000)} s); 'nuvom history recent --status failed' lists them`);
  }
}
