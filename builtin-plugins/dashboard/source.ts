/**
 * What the dashboard reads and does, as a narrow interface that a `Client` satisfies and that the CLI
 * builds from the kernel's services. Everything goes through the services (jobs, scheduler), never
 * backend-specific SQL, so the dashboard works on every backend.
 * Must never: reach a backend directly.
 */
import type { JobRecord, JobStats, KernelInfo, ListJobsFilter, NuvomConfig, PluginContext, ResultStore, ScheduleEntry } from '../../sdk/plugin.ts';

export interface DashboardSource {
  getJob(id: string): Promise<JobRecord | null>;
  listJobs(filter?: ListJobsFilter): Promise<JobRecord[]>;
  retryJob(id: string): Promise<JobRecord>;
  cancelJob(id: string): Promise<'cancelled' | 'signalled'>;
  stats(sinceMs?: number): Promise<JobStats>;
  listSchedules(opts?: { includeFinished?: boolean }): Promise<ScheduleEntry[]>;
  /** Cancels a schedule by id or key; false when none has it. */
  cancelSchedule(id: string): Promise<boolean>;
  /** The result store, for its optional insights (chart, run times); absent: a Client's kernel's. */
  resultStore?(): ResultStore;
  /** Plugins and configuration for the plugins page; absent: a Client's kernel and config. */
  about?(): { info?: KernelInfo; config?: NuvomConfig };
  /** The workers from their heartbeats (the `workers` service of nuvom-workers); absent: none shown. */
  listWorkers?(): Promise<readonly object[]>;
}

/**
 * The workers list of a source: its own `listWorkers`, else, for a `Client` (which has a kernel but
 * no such method), the kernel's `workers` service; an empty list when neither exists.
 */
export function workersOf(src: DashboardSource): () => Promise<readonly object[]> {
  if (src.listWorkers) return () => src.listWorkers!();
  const kernel = (src as { kernel?: { resolve?: (token: 'workers') => { list(): Promise<readonly object[]> } } }).kernel;
  if (typeof kernel?.resolve === 'function') return () => kernel.resolve!('workers').list();
  return async () => [];
}

/** The source over a plugin context's services (used by `nuvom dashboard`). */
export function sourceOf(ctx: PluginContext): DashboardSource {
  const jobs = () => ctx.resolve('jobs');
  return {
    getJob: (id) => jobs().getJob(id),
    listJobs: (f) => jobs().listJobs(f),
    retryJob: (id) => jobs().retryJob(id),
    cancelJob: (id) => jobs().cancelJob(id),
    stats: (since) => jobs().stats(since),
    listSchedules: (o) => ctx.resolve('scheduler').list(o),
    cancelSchedule: (id) => ctx.resolve('scheduler').cancel(id),
    listWorkers: () => ctx.resolve('workers').list(),
    resultStore: () => ctx.resolve('resultStore'),
    about: () => ({ info: ctx.resolve('kernelInfo'), config: ctx.config }),
  };
}
