/**
 * The overview's chart and run times: completions (SUCCESS, FAILED) per bucket over the last hour
 * and day, and p50/p95 run time per task over each task's newest completed records. A result store
 * with the optional ResultStoreInsights contract (SQLite) answers from its counters and indexes; any
 * other is read through listJobs over at most FALLBACK_SCAN of its newest completed records.
 * Must never: read every record.
 */
import type { CompletionBucket, ResultStore, ResultStoreInsights } from '../../sdk/plugin.ts';
import type { DashboardSource } from './source.ts';

export const FALLBACK_SCAN = 5000;
/** Run times are taken over this many of each task's newest completed records, for this many tasks. */
export const RUN_TIME_WINDOW = 200;
export const RUN_TIME_TASKS = 50;

export interface RunTimeRow { task: string; n: number; p50: number; p95: number }
export interface Insights {
  completions(since: number, bucketMs: number): Promise<CompletionBucket[]>;
  runTimes(): Promise<RunTimeRow[]>;
}

function hasInsights(store: ResultStore | undefined): store is ResultStore & ResultStoreInsights {
  const s = store as Partial<ResultStoreInsights> | undefined;
  return typeof s?.completions === 'function' && typeof s.runTimes === 'function';
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export function runTimeRows(byTask: Record<string, number[]>): RunTimeRow[] {
  return Object.entries(byTask).map(([task, ms]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return { task, n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  }).sort((a, b) => a.task.localeCompare(b.task));
}

/** The result store behind a source: its own, a Client's kernel's, or none. */
function storeOf(src: DashboardSource): ResultStore | undefined {
  if (src.resultStore) return src.resultStore();
  const kernel = (src as { kernel?: { resolve?: (token: 'resultStore') => ResultStore } }).kernel;
  return typeof kernel?.resolve === 'function' ? kernel.resolve('resultStore') : undefined;
}

/** Run times move slowly: one read serves the overview's reloads for this long. */
export const RUN_TIME_CACHE_MS = 10_000;

export function insightsOf(src: DashboardSource): Insights {
  let cached: { at: number; rows: Promise<RunTimeRow[]> } | null = null;
  const plain = plainInsights(src);
  return {
    completions: plain.completions,
    runTimes() {
      const now = Date.now();
      if (!cached || now - cached.at > RUN_TIME_CACHE_MS) {
        const rows = plain.runTimes();
        cached = { at: now, rows };
        rows.catch(() => { if (cached?.rows === rows) cached = null; });
      }
      return cached.rows;
    },
  };
}

function plainInsights(src: DashboardSource): Insights {
  return {
    async completions(since, bucketMs) {
      const store = storeOf(src);
      if (hasInsights(store)) return store.completions(since, bucketMs);
      const from = Math.floor(since / bucketMs) * bucketMs;
      const buckets: CompletionBucket[] = [];
      for (let at = from; at <= Date.now(); at += bucketMs) buckets.push({ at, success: 0, failed: 0 });
      for (const r of await src.listJobs({ status: ['SUCCESS', 'FAILED'], createdAfter: from - 86_400_000, limit: FALLBACK_SCAN, withArgs: false })) {
        const b = r.completedAt ? buckets[Math.floor((Date.parse(r.completedAt) - from) / bucketMs)] : undefined;
        if (b) b[r.status === 'SUCCESS' ? 'success' : 'failed'] += 1;
      }
      return buckets;
    },
    async runTimes() {
      const store = storeOf(src);
      if (hasInsights(store)) return runTimeRows(await store.runTimes(RUN_TIME_WINDOW, RUN_TIME_TASKS));
      const byTask: Record<string, number[]> = {};
      for (const r of await src.listJobs({ status: ['SUCCESS', 'FAILED'], limit: FALLBACK_SCAN, withArgs: false })) {
        if (!r.startedAt || !r.completedAt) continue;
        const list = (byTask[r.taskName] ??= []);
        if (list.length < RUN_TIME_WINDOW && (list.length > 0 || Object.keys(byTask).length <= RUN_TIME_TASKS)) list.push(Date.parse(r.completedAt) - Date.parse(r.startedAt));
      }
      for (const [t, l] of Object.entries(byTask)) if (!l.length) delete byTask[t];
      return runTimeRows(byTask);
    },
  };
}
