/**
 * Job timeouts without a timer per job: running jobs with the same timeout are kept in start order
 * in an intrusive list (their deadlines are then in order too), and one timer is armed for the
 * earliest deadline of all lists. Adding and removing a job is O(1) and allocates nothing; the
 * timer is re-armed only when it fires (or when a shorter timeout's deadline comes first).
 * Must never: fire for a job that was removed; keep the process alive once no job is timed.
 */

/** What an entry carries for its place in a list (set at creation, so every entry keeps one shape). */
export interface Timed {
  deadline: number;
  prevT: Timed | null;
  nextT: Timed | null;
  listT: DeadlineList | null;
}

export class DeadlineList {
  head: Timed | null = null;
  tail: Timed | null = null;
}

export class Deadlines<T extends Timed> {
  private readonly lists = new Map<number, DeadlineList>();
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private readonly fire = (): void => this.expire();

  constructor(private readonly onExpire: (entry: T) => void) {}

  /** Times `entry` out `ms` after `now`. */
  add(entry: T, ms: number, now: number): void {
    if (entry.listT) this.remove(entry);
    let list = this.lists.get(ms);
    if (!list) this.lists.set(ms, (list = new DeadlineList()));
    entry.deadline = now + ms;
    entry.listT = list;
    entry.prevT = list.tail;
    entry.nextT = null;
    if (list.tail) list.tail.nextT = entry;
    else list.head = entry;
    list.tail = entry;
    this.count++;
    if (entry.deadline < this.armedAt) this.arm(entry.deadline);
  }

  has(entry: T): boolean {
    return entry.listT !== null;
  }

  remove(entry: T): void {
    const list = entry.listT;
    if (!list) return;
    if (entry.prevT) entry.prevT.nextT = entry.nextT;
    else list.head = entry.nextT;
    if (entry.nextT) entry.nextT.prevT = entry.prevT;
    else list.tail = entry.prevT;
    entry.prevT = entry.nextT = null;
    entry.listT = null;
    if (--this.count === 0) this.disarm();
  }

  /** Stops the timer (the pool stopped); entries stay where they are. */
  stop(): void {
    this.disarm();
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.fire, Math.max(1, at - Date.now()));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = Date.now();
    const due: T[] = [];
    let next = Infinity;
    for (const list of this.lists.values()) {
      while (list.head && list.head.deadline <= now) {
        const e = list.head as T;
        this.remove(e);
        due.push(e);
      }
      if (list.head && list.head.deadline < next) next = list.head.deadline;
    }
    if (next < Infinity) this.arm(next);
    for (const e of due) this.onExpire(e);
  }
}
