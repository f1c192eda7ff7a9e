/**
 * The metrics of the nuvom-prometheus plugin: one prom-client Registry per kernel (never the global
 * one), fed by the public observer hooks, plus gauges read from the queue and the result store when
 * Prometheus scrapes. docs/monitoring.md lists every metric with its type and labels.
 * Must never: throw from a tap, or hold a scrape longer than the collect timeout when a backend hangs.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  JOB_STATUSES, messageOf,
  type JobEvent, type JobStats, type KernelHooks, type Logger, type Queue, type QueueCounts, type ResultStore,
} from '../../sdk/plugin.ts';

/** Seconds. Jobs run from milliseconds to many minutes. */
export const DEFAULT_RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds from claimable (runAt) to started: near zero on an idle pool, minutes on a backlog. */
export const DEFAULT_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export type Outcome = 'succeeded' | 'failed' | 'retried' | 'timed_out' | 'cancelled';

export interface MetricsOptions {
  /** Resolved on the first scrape, so a process that is never scraped opens no backend for us. */
  queue: () => Queue;
  resultStore: () => ResultStore;
  logger: Logger;
  collectTimeoutMs: number;
  runBuckets: number[];
  waitBuckets: number[];
  defaultMetrics: boolean;
  /** false: no nuvom_jobs nor nuvom_oldest_pending_job_age_seconds (the result store's stats(), a pass over every record on PostgreSQL). */
  recordGauges?: boolean;
}

type Source = 'queue' | 'results';
interface Read<T> { promise: Promise<T>; countedIn: number }

export class NuvomMetrics {
  readonly registry = new Registry();
  private readonly jobs: Counter<'task' | 'outcome'>;
  private readonly enqueued: Counter<'task'>;
  private readonly redelivered: Counter<'task'>;
  private readonly runTime: Histogram<'task'>;
  private readonly waitTime: Histogram<'task'>;
  private readonly replacements: Counter<string>;
  private readonly collectErrors: Counter<'source'>;
  /**
   * Per worker in this process: live threads (counted from thread events, not by id: threadStopped
   * reports threadId -1 once the thread has exited) and busy threads (from poolStats, every second).
   */
  private readonly workers = new Map<string, { threads: number; busy: number }>();
  private readonly inflight = new Map<Source, Read<unknown>>();
  private readonly warned = new Set<Source>();
  private scrapes = 0;

  constructor(private readonly o: MetricsOptions) {
    const registers = [this.registry];
    this.jobs = new Counter({
      name: 'nuvom_jobs_total', registers, labelNames: ['task', 'outcome'] as const,
      help: 'Job attempt outcomes seen by this process: succeeded, failed (for good), retried, timed_out (also counted in the attempt\'s final outcome), cancelled',
    });
    this.enqueued = new Counter({ name: 'nuvom_jobs_enqueued_total', registers, labelNames: ['task'] as const, help: 'Jobs enqueued by this process' });
    this.redelivered = new Counter({ name: 'nuvom_jobs_redelivered_total', registers, labelNames: ['task'] as const, help: 'Jobs claimed again after a lease expired' });
    this.runTime = new Histogram({ name: 'nuvom_job_run_seconds', registers, labelNames: ['task'] as const, buckets: o.runBuckets, help: 'Run time of one job attempt, start to outcome' });
    this.waitTime = new Histogram({ name: 'nuvom_job_wait_seconds', registers, labelNames: ['task'] as const, buckets: o.waitBuckets, help: 'Time a job waited from claimable (its runAt) to started' });
    this.replacements = new Counter({ name: 'nuvom_thread_replacements_total', registers, help: 'Worker threads replaced after they died or were terminated (runaway job past its timeout)' });
    this.collectErrors = new Counter({ name: 'nuvom_metrics_collect_errors_total', registers, labelNames: ['source'] as const, help: 'Scrapes whose queue or result-store read failed or timed out (those gauges are then left out)' });

    for (const source of ['queue', 'results'] as const) this.collectErrors.inc({ source }, 0);

    const threads = new Gauge({
      name: 'nuvom_worker_threads', registers, labelNames: ['state'] as const,
      help: 'Worker threads of the workers in this process, by state (busy: running at least one job)',
      collect: () => {
        let busy = 0; let all = 0;
        for (const w of this.workers.values()) { all += w.threads; busy += Math.min(w.busy, w.threads); }
        threads.set({ state: 'busy' }, busy);
        threads.set({ state: 'idle' }, all - busy);
      },
    });
    const queue = new Gauge({
      name: 'nuvom_queue_jobs', registers, labelNames: ['state'] as const,
      help: 'Jobs in the queue by state: ready (claimable now), delayed (waiting for runAt), leased (claimed by a worker)',
      collect: async () => {
        queue.reset();
        const c = await this.read<QueueCounts>('queue', () => this.o.queue().counts());
        if (c) for (const state of ['ready', 'delayed', 'leased'] as const) queue.set({ state }, c[state]);
      },
    });
    if (o.recordGauges !== false) this.recordGauges(registers);
    if (o.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** The gauges read from the result store's stats() on scrape (left out with record_gauges = false). */
  private recordGauges(registers: Registry[]): void {
    const records = new Gauge({
      name: 'nuvom_jobs', registers, labelNames: ['status'] as const,
      help: 'Job records in the result store by status',
      collect: async () => {
        records.reset();
        const s = await this.read<JobStats>('results', () => this.o.resultStore().stats(Date.now()));
        if (s) for (const status of JOB_STATUSES) records.set({ status }, s.byStatus[status] ?? 0);
      },
    });
    const oldest = new Gauge({
      name: 'nuvom_oldest_pending_job_age_seconds', registers,
      help: 'Age of the oldest PENDING job record (0 when none)',
      collect: async () => {
        oldest.reset();
        const s = await this.read<JobStats>('results', () => this.o.resultStore().stats(Date.now()));
        if (s) oldest.set(s.oldestPendingAt ? Math.max(0, (Date.now() - Date.parse(s.oldestPendingAt)) / 1000) : 0);
      },
    });
  }

  /** The exposition text (what GET /metrics serves). */
  async text(): Promise<string> {
    this.scrapes++;
    return this.registry.metrics();
  }

  /** Taps every observer hook it needs, under the plugin's name; taps are synchronous and cheap. */
  tap(hooks: Readonly<KernelHooks>, name: string): void {
    const count = (outcome: Outcome, e: JobEvent) => this.jobs.inc({ task: e.taskName, outcome });
    const ran = (e: JobEvent) => { if (e.runMs !== undefined) this.runTime.observe({ task: e.taskName }, e.runMs / 1000); };
    hooks.jobEnqueued.tap(name, (e) => { this.enqueued.inc({ task: e.taskName }); });
    hooks.jobStarted.tap(name, (e) => { if (e.waitMs !== undefined) this.waitTime.observe({ task: e.taskName }, e.waitMs / 1000); });
    hooks.jobSucceeded.tap(name, (e) => { count('succeeded', e); ran(e); });
    hooks.jobFailed.tap(name, (e) => { count('failed', e); ran(e); });
    hooks.jobRetryScheduled.tap(name, (e) => { count('retried', e); ran(e); });
    // The attempt's own outcome (retried, failed, or succeeded under the 'ignore' policy) follows and records the run time.
    hooks.jobTimedOut.tap(name, (e) => { count('timed_out', e); });
    hooks.jobCancelled.tap(name, (e) => { count('cancelled', e); if (e.phase === 'running') ran(e); });
    hooks.jobRedelivered.tap(name, (e) => { this.redelivered.inc({ task: e.taskName }); });
    hooks.threadStarted.tap(name, (e) => { this.worker(e.workerId, true)!.threads += 1; });
    hooks.threadStopped.tap(name, (e) => { const w = this.worker(e.workerId, false); if (w) w.threads = Math.max(0, w.threads - 1); });
    hooks.threadReplaced.tap(name, () => { this.replacements.inc(); });
    hooks.workerStarted.tap(name, (e) => { this.worker(e.workerId, true); });
    hooks.workerStopped.tap(name, (e) => { this.workers.delete(e.workerId); });
    hooks.poolStats.tap(name, (s) => { const w = this.worker(s.workerId, false); if (w) w.busy = s.busyThreads; });
  }

  private worker(id: string, create: boolean) {
    let w = this.workers.get(id);
    if (!w && create) this.workers.set(id, (w = { threads: 0, busy: 0 }));
    return w;
  }

  /**
   * One read per source at a time (the gauges of one scrape share it, and a hanging backend is not
   * called again by every scrape), bounded by the collect timeout; null when it failed.
   */
  private async read<T>(source: Source, fn: () => Promise<T>): Promise<T | null> {
    let entry = this.inflight.get(source) as Read<T> | undefined;
    if (!entry) {
      const made: Read<T> = { promise: Promise.resolve().then(fn), countedIn: -1 };
      this.inflight.set(source, made);
      const done = () => { if (this.inflight.get(source) === made) this.inflight.delete(source); };
      void made.promise.then(done, done);
      entry = made;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const out = await Promise.race([entry.promise, new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.o.collectTimeoutMs} ms`)), this.o.collectTimeoutMs);
      })]);
      this.warned.delete(source);
      return out;
    } catch (err) {
      if (entry.countedIn === this.scrapes) return null; // another gauge of this scrape already counted it
      entry.countedIn = this.scrapes;
      this.collectErrors.inc({ source });
      if (!this.warned.has(source)) {
        this.warned.add(source);
        const what = source === 'queue' ? 'nuvom_queue_jobs is' : 'nuvom_jobs and nuvom_oldest_pending_job_age_seconds are';
        this.o.logger.warn(`could not read the ${source === 'queue' ? 'queue' : 'result store'} for a scrape: ${messageOf(err)}; ${what} left out until it answers (collect_timeout_ms sets the limit)`);
      }
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
