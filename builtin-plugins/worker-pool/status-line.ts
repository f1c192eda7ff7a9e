/**
 * The worker's status line (`runworker`): redrawn in place twice a second on a terminal; off a
 * terminal (a log file, journald) logged only when it changed, checked every 10 s, or every 5 minutes
 * when nothing did, so an idle worker writes a few hundred lines a day instead of 8,640.
 * Must never: write to stdout (data goes there; logs go to stderr).
 */
import type { RunningWorker } from '../../sdk/plugin.ts';

type Stats = ReturnType<RunningWorker['stats']>;

export function statusLine(s: Stats, startedAt: number, now = Date.now()): string {
  const secs = Math.max(1, (now - startedAt) / 1000);
  return `threads ${s.busyThreads}/${s.threads} busy | running ${s.running} | done ${s.done} | failed ${s.failed} | ${(s.done / secs).toFixed(1)} jobs/s`;
}

/** Off a terminal: whether this tick logs the line. The rate (jobs/s) alone is not a change. */
export class StatusLog {
  private last: string | null = null;
  private lastAt = 0;

  constructor(readonly checkMs = 10_000, readonly quietMs = 5 * 60_000) {}

  shouldLog(s: Stats, now = Date.now()): boolean {
    const key = `${s.threads} ${s.busyThreads} ${s.running} ${s.done} ${s.failed}`;
    if (key === this.last && now - this.lastAt < this.quietMs) return false;
    this.last = key;
    this.lastAt = now;
    return true;
  }
}
