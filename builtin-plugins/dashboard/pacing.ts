/**
 * What the dashboard asks of the store is paced by what it costs there, so that the load it puts on
 * the database stays bounded whatever the number of open tabs and the size of the store (on
 * PostgreSQL the counts are a pass over every record: ~0.6 s at 500,000 records).
 * - `Paced`: one computation shared by every caller. Callers while it runs wait for it; callers after
 *   it get its value while it is younger than max(minAgeMs, COST_FACTOR x what it took).
 * - `pollDelay`: a poll starts COST_FACTOR x its last cost after that one ended (at least the interval),
 *   and never while the last one still runs. The change stream counts in its cost the overview's: a
 *   change it finds makes every open tab read the overview again.
 * Either way the store spends at most about 1 / (1 + COST_FACTOR) of its time on the dashboard.
 * Must never: serve a value computed before an invalidate() to a caller who came after it.
 */

/** How many times its own cost a result is reused, and a poll waits. */
export const COST_FACTOR = 10;

export type Clock = () => number;

export class Paced<T> {
  private last: { at: number; value: T } | null = null;
  private inflight: Promise<T> | null = null;
  /** Bumped by invalidate(): a computation started before it is not kept. */
  private epoch = 0;
  /** What the last computation took (ms), remembered across invalidate(); 0 before the first. */
  private lastCost = 0;

  constructor(private readonly compute: () => Promise<T>, private readonly minAgeMs: number, private readonly clock: Clock = Date.now) {}

  get(): Promise<T> {
    const now = this.clock();
    const last = this.last;
    if (last && now - last.at < Math.max(this.minAgeMs, COST_FACTOR * this.lastCost)) return Promise.resolve(last.value);
    if (this.inflight) return this.inflight;
    const epoch = this.epoch;
    const started = now;
    const run = this.compute().then((value) => {
      const end = this.clock();
      this.lastCost = Math.max(0, end - started);
      if (epoch === this.epoch) this.last = { at: end, value };
      return value;
    });
    this.inflight = run;
    const clear = () => { if (this.inflight === run) this.inflight = null; };
    run.then(clear, clear);
    return run;
  }

  /** What the last computation took (ms), 0 before the first. */
  get cost(): number {
    return this.lastCost;
  }

  /** Forget the kept value (after a change made through the dashboard), and any computation running. */
  invalidate(): void {
    this.epoch++;
    this.last = null;
    this.inflight = null;
  }
}

/** The wait before the next poll, given the interval and what the last poll cost (ms). */
export function pollDelay(intervalMs: number, lastCostMs: number): number {
  return Math.max(intervalMs, COST_FACTOR * lastCostMs);
}
