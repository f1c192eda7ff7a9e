/**
 * A short-lived, sorted snapshot of the ready and leased directories, so a claim over thousands of
 * job files costs a walk over names in memory rather than a readdir and a sort per call. The snapshot
 * may be stale (another process claimed or enqueued meanwhile): that is safe, because every claim is
 * an atomic rename that fails with ENOENT when the file has gone, and the snapshot is refreshed after
 * `ttlMs` or whenever a claim finds too little in it.
 * Must never: decide anything by itself; the filesystem is the truth, this is a hint.
 */
import { parseName, type JobName } from './names.ts';

export interface Entry {
  name: string;
  job: JobName;
}

/** Binary search for the insertion point of `name` in `entries` (sorted by name). */
function lowerBound(entries: Entry[], name: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].name < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Listing {
  /** Sorted by name: priority, then runAt, then enqueue order. */
  ready: Entry[] = [];
  leased: Entry[] = [];
  private takenAt = -Infinity;
  /** Names this process moved out of ready/ since the last load: their watch events are our own. */
  private gone = new Set<string>();

  constructor(private readonly ttlMs: number) {}

  isFresh(): boolean {
    return Date.now() - this.takenAt < this.ttlMs;
  }

  invalidate(): void {
    this.takenAt = -Infinity;
  }

  /**
   * Replaces the snapshot from directory listings. Returns the names that are not job files of this
   * layout (the caller quarantines them).
   */
  load(readyNames: string[], leasedNames: string[]): { strayReady: string[]; strayLeased: string[] } {
    const strayReady: string[] = [];
    const strayLeased: string[] = [];
    const ready: Entry[] = [];
    const leased: Entry[] = [];
    for (const name of readyNames) {
      const job = parseName(name);
      if (job && !job.lease) ready.push({ name, job });
      else strayReady.push(name);
    }
    for (const name of leasedNames) {
      const job = parseName(name);
      if (job?.lease) leased.push({ name, job });
      else strayLeased.push(name);
    }
    ready.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.ready = ready;
    this.leased = leased;
    this.takenAt = Date.now();
    this.gone.clear();
    return { strayReady, strayLeased };
  }

  addReady(entry: Entry): void {
    this.ready.splice(lowerBound(this.ready, entry.name), 0, entry);
  }

  removeReady(name: string): void {
    const i = lowerBound(this.ready, name);
    if (this.ready[i]?.name === name) this.ready.splice(i, 1);
    this.gone.add(name);
  }

  /** Whether a name in ready/ is one this snapshot already accounts for (present, or removed by us). */
  knows(name: string): boolean {
    if (this.gone.has(name)) return true;
    const i = lowerBound(this.ready, name);
    return this.ready[i]?.name === name;
  }

  addLeased(entry: Entry): void {
    this.leased.push(entry);
  }

  removeLeased(name: string): void {
    const i = this.leased.findIndex((e) => e.name === name);
    if (i >= 0) this.leased.splice(i, 1);
  }
}
