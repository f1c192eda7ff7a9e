/**
 * The in-process queue: same contract as the durable ones (leases, attempts, priorities, delays
 * without head-of-line blocking, cancel flags), nothing survives the process.
 *
 * Three binary heaps hold references to entries: `ready` (priority desc, runAt asc, enqueue order),
 * `delayed` (runAt asc) and `leases` (leaseExpiresAt asc). A claim promotes due delayed jobs and
 * expired leases into `ready` and pops from it, so it costs O(k log n), not a sort of every job.
 * Heaps are lazily cleaned: each node carries the entry's generation at push time, and a node whose
 * generation is stale (the job moved, was acked or cancelled) is dropped when it surfaces.
 * Must never: hand out or keep a reference the caller could mutate (jobs are copied in and out).
 */
import {
  ChangeListeners, NuvomError, claimArgs, duplicateJob, renewArgs, type CancelOutcome, type ClaimOptions, type ClaimedJob, type Queue, type QueueCounts,
  type QueuedJob, type RenewResult,
} from '../../sdk/plugin.ts';

type State = 'waiting' | 'leased';

interface Entry {
  job: QueuedJob;
  /** Enqueue order: the FIFO tie-break. */
  seq: number;
  state: State;
  workerId: string | null;
  leaseExpiresAt: number;
  cancelRequested: boolean;
  /** Its lease expired and nobody has claimed it since: the next claim is a redelivery. */
  redelivered: boolean;
  /** Bumped on every move; heap nodes with an older generation are stale. -1 once removed. */
  gen: number;
}

/** Heap keys are snapshots taken at push time: an entry's live fields change while stale nodes remain. */
interface Node {
  e: Entry;
  gen: number;
  priority: number;
  runAt: number;
  seq: number;
  expires: number;
}

function nodeOf(e: Entry): Node {
  return { e, gen: e.gen, priority: e.job.priority, runAt: e.job.runAt, seq: e.seq, expires: e.leaseExpiresAt };
}

/** A minimal binary min-heap under `less`. */
class Heap {
  private items: Node[] = [];
  constructor(private readonly less: (a: Node, b: Node) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  nodes(): readonly Node[] {
    return this.items;
  }

  push(node: Node): void {
    const a = this.items;
    let i = a.length;
    a.push(node);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(node, a[parent])) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = node;
  }

  peek(): Node | undefined {
    return this.items[0];
  }

  pop(): Node | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    const n = a.length;
    if (n > 0 && last) {
      // Sift the last node down from the root, moving children up into the hole.
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && this.less(a[c + 1], a[c])) c += 1;
        if (!this.less(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }

  clear(): void {
    this.items = [];
  }
}

/** A copy sharing nothing mutable with `job`; cheap for the usual flat options and empty meta. */
function copyJob(job: QueuedJob): QueuedJob {
  return {
    ...job,
    args: new Uint8Array(job.args),
    options: { ...job.options, tags: [...job.options.tags] },
    meta: isEmpty(job.meta) ? {} : structuredClone(job.meta),
  };
}

function isEmpty(obj: Record<string, unknown>): boolean {
  for (const _ in obj) return false;
  return true;
}

export class MemoryQueue implements Queue {
  private readonly entries = new Map<string, Entry>();
  private readonly ready = new Heap((a, b) => a.priority !== b.priority ? a.priority > b.priority
    : a.runAt !== b.runAt ? a.runAt < b.runAt
      : a.seq < b.seq);
  private readonly delayed = new Heap((a, b) => a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq));
  private readonly leases = new Heap((a, b) => a.expires < b.expires);
  private readonly listeners = new ChangeListeners(undefined, 'memory queue', 'microtask');
  private seq = 0;

  async enqueue(job: QueuedJob): Promise<void> {
    this.refuseDuplicates([job]);
    this.insert(job);
    this.notify();
  }

  async enqueueMany(jobs: QueuedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    this.refuseDuplicates(jobs);
    // Copy everything before inserting anything, so a job that cannot be copied leaves the queue unchanged.
    const copies = jobs.map(copyJob);
    for (const job of copies) this.insertCopy(job);
    this.notify();
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    const { now, max } = claimArgs(opts);
    this.reclaimExpired(now);
    this.promoteDue(now);
    const out: ClaimedJob[] = [];
    const notYet: Entry[] = [];
    while (out.length < max) {
      const node = this.ready.pop();
      if (!node) break;
      const e = node.e;
      if (!this.live(node)) continue;
      // A caller may pass an earlier `now` than a previous claim; such a job goes back to waiting.
      if (e.job.runAt > now) {
        notYet.push(e);
        continue;
      }
      e.state = 'leased';
      e.workerId = opts.workerId;
      e.leaseExpiresAt = now + opts.leaseMs;
      e.job.attempts += 1;
      e.gen += 1;
      this.leases.push(nodeOf(e));
      out.push({ ...copyJob(e.job), workerId: opts.workerId, leaseExpiresAt: e.leaseExpiresAt, redelivered: e.redelivered });
      e.redelivered = false;
    }
    for (const e of notYet) this.wait(e);
    return out;
  }

  async renew(ids: string[], workerId: string, leaseMs: number, now = Date.now()): Promise<RenewResult> {
    renewArgs(ids, workerId, leaseMs);
    const held: string[] = [];
    const cancelled: string[] = [];
    for (const id of ids) {
      const e = this.heldBy(id, workerId);
      if (!e) continue;
      e.leaseExpiresAt = now + leaseMs;
      e.gen += 1;
      this.leases.push(nodeOf(e));
      held.push(id);
      if (e.cancelRequested) cancelled.push(id);
    }
    return { held, cancelled };
  }

  async ack(id: string, workerId: string): Promise<void> {
    const e = this.heldBy(id, workerId);
    if (e) this.remove(e);
  }

  async ackMany(ids: string[], workerId: string): Promise<void> {
    for (const id of ids) await this.ack(id, workerId);
  }

  async retry(id: string, workerId: string, runAt: number): Promise<void> {
    const e = this.heldBy(id, workerId);
    if (!e) return;
    e.job.runAt = runAt;
    this.wait(e);
    this.notify();
  }

  async release(id: string, workerId: string): Promise<void> {
    const e = this.heldBy(id, workerId);
    if (!e) return;
    e.job.attempts = Math.max(0, e.job.attempts - 1);
    this.wait(e);
    this.notify();
  }

  async fail(id: string, workerId: string): Promise<void> {
    const e = this.heldBy(id, workerId);
    if (e) this.remove(e);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const e = this.entries.get(id);
    if (!e) return 'absent';
    if (e.state === 'leased') {
      e.cancelRequested = true;
      this.notify(); // wakes the worker holding it (Queue.cancelRequested)
      return 'signalled';
    }
    this.remove(e);
    return 'removed';
  }

  async cancelRequested(ids: string[]): Promise<string[]> {
    return ids.filter((id) => this.entries.get(id)?.cancelRequested === true);
  }

  async get(id: string): Promise<QueuedJob | null> {
    const e = this.entries.get(id);
    return e ? copyJob(e.job) : null;
  }

  async counts(now = Date.now()): Promise<QueueCounts> {
    const counts: QueueCounts = { ready: 0, delayed: 0, leased: 0 };
    for (const e of this.entries.values()) {
      if (e.state === 'leased' && e.leaseExpiresAt > now) counts.leased += 1;
      else if (e.state === 'leased' || e.job.runAt <= now) counts.ready += 1;
      else counts.delayed += 1;
    }
    return counts;
  }

  async qsize(): Promise<number> {
    return this.entries.size;
  }

  async nextRunAt(): Promise<number | null> {
    let min: number | null = null;
    while (this.delayed.size > 0 && !this.live(this.delayed.peek()!)) this.delayed.pop();
    const top = this.delayed.peek();
    if (top) min = top.runAt;
    // The ready heap is ordered by priority, so its earliest runAt needs a scan; it is short when idle.
    for (const node of this.ready.nodes()) {
      if (this.live(node) && (min === null || node.e.job.runAt < min)) min = node.e.job.runAt;
    }
    return min;
  }

  async clear(): Promise<void> {
    for (const e of this.entries.values()) e.gen = -1;
    this.entries.clear();
    this.ready.clear();
    this.delayed.clear();
    this.leases.clear();
  }

  subscribe(onChange: () => void): () => void {
    return this.listeners.add(onChange);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /** For the memory job store: whether `workerId` holds the job (ack, retry, release, fail would act). */
  holds(id: string, workerId: string): boolean {
    return this.heldBy(id, workerId) !== undefined;
  }

  /** For the memory job store: refuses a batch holding an id already queued, before anything is written. */
  checkNew(jobs: QueuedJob[]): void {
    this.refuseDuplicates(jobs);
  }

  private refuseDuplicates(jobs: QueuedJob[]): void {
    const seen = new Set<string>();
    for (const job of jobs) {
      if (this.entries.has(job.id) || seen.has(job.id)) {
        throw duplicateJob(job.id);
      }
      seen.add(job.id);
    }
  }

  private insert(job: QueuedJob): void {
    this.insertCopy(copyJob(job));
  }

  private insertCopy(job: QueuedJob): void {
    const e: Entry = { job, seq: this.seq++, state: 'waiting', workerId: null, leaseExpiresAt: 0, cancelRequested: false, redelivered: false, gen: 0 };
    this.entries.set(job.id, e);
    this.wait(e);
  }

  /** Puts an entry back among the unclaimed jobs, in the heap its runAt calls for (decided at claim). */
  private wait(e: Entry): void {
    e.state = 'waiting';
    e.workerId = null;
    e.leaseExpiresAt = 0;
    e.gen += 1;
    this.delayed.push(nodeOf(e));
  }

  private promoteDue(now: number): void {
    for (let top = this.delayed.peek(); top; top = this.delayed.peek()) {
      if (!this.live(top)) {
        this.delayed.pop();
        continue;
      }
      if (top.runAt > now) break;
      this.delayed.pop();
      this.ready.push(top);
    }
  }

  /** Expired leases become claimable again (redelivery); the cancel flag stays so renew still reports it. */
  private reclaimExpired(now: number): void {
    for (let top = this.leases.peek(); top; top = this.leases.peek()) {
      if (!this.live(top)) {
        this.leases.pop();
        continue;
      }
      if (top.expires > now) break;
      this.leases.pop();
      const e = top.e;
      e.state = 'waiting';
      e.workerId = null;
      e.redelivered = true;
      e.gen += 1;
      this.ready.push(nodeOf(e));
    }
  }

  private heldBy(id: string, workerId: string): Entry | undefined {
    const e = this.entries.get(id);
    return e && e.state === 'leased' && e.workerId === workerId ? e : undefined;
  }

  private live(node: Node): boolean {
    return node.gen === node.e.gen;
  }

  private remove(e: Entry): void {
    e.gen = -1;
    this.entries.delete(e.job.id);
  }

  /** Coalesced: many changes in one tick wake each listener once. */
  private notify(): void {
    this.listeners.notify();
  }

}
