/**
 * Service types published by nuvom's built-in plugins, so that other plugins (and the client) can
 * resolve them by token with types. A replacement plugin implements the same interface.
 */
import type { JobRecord, JobStats, ListJobsFilter, ScheduleEntry, Trigger, TaskOptionsSnapshot } from './service-types.ts';
export type { TaskOptionsSnapshot };
import type { TaskSignature } from './task-signature.ts';
import type { AnyTask, EnqueueOptions, JobHandle, ResultOptions, ScheduleHandle } from './task.ts';

/** A task as the registry knows it: defined in this process, or listed in the manifest. */
export interface TaskRef {
  name: string;
  /** Static options (from the task object, or read by discovery from the source). */
  options: TaskOptionsSnapshot;
  /** file:// URL of the module that defines it, when known. */
  moduleUrl: string | null;
  /** The export that holds it, when known from the manifest. */
  exportName: string | null;
  /** Where the entry came from. */
  source: 'process' | 'manifest';
  /**
   * The task function's parameters, from the manifest: null when discovery could not see the function,
   * undefined when the manifest predates parameter recording (or the task is not in it).
   */
  signature?: TaskSignature | null;
}

export interface RegistryService {
  get(name: string): TaskRef | undefined;
  list(): TaskRef[];
  /** Re-reads the manifest (after discovery ran). */
  refresh(): void;
}

export interface EnqueueCall {
  taskName: string;
  /** Task-level options (from the task object or its registry entry). */
  taskOptions: TaskOptionsSnapshot;
  call: EnqueueOptions<unknown[]>;
}

export interface JobsService {
  enqueue(calls: EnqueueCall[]): Promise<JobHandle[]>;
  enqueueTask(task: AnyTask, calls: Array<EnqueueOptions<unknown[]>>): Promise<JobHandle[]>;
  handle(id: string, taskName: string): JobHandle;
  getJob(id: string): Promise<JobRecord | null>;
  listJobs(filter?: ListJobsFilter): Promise<JobRecord[]>;
  waitForResult(id: string, opts?: ResultOptions): Promise<unknown>;
  /** Runs a FAILED or CANCELLED job again with its task's options. */
  retryJob(id: string): Promise<JobRecord>;
  /** Cancels a PENDING or RETRYING job; a RUNNING job's signal is aborted. */
  cancelJob(id: string): Promise<'cancelled' | 'signalled'>;
  stats(sinceMs?: number): Promise<JobStats>;
  /** The client is closing: result() calls still waiting end with NUVOM_E_CLIENT_CLOSED. */
  close?(): void;
}

export interface WorkerOptions {
  threads?: number;
  concurrency?: number;
  batchSize?: number;
  /** Stop once the queue is empty and nothing runs (benchmarks, scripts). */
  burst?: boolean;
  /** Grace period for a drain on stop, in ms (default 10 s). */
  drainMs?: number;
  /** Heap limit per worker thread in MB; a task that exceeds it fails and its thread is replaced. */
  memoryLimitMb?: number;
}

export interface RunningWorker {
  readonly id: string;
  /**
   * Resolves when the worker has stopped (after stop(), or a burst run finished); rejects when a burst
   * run's claim failed (a server down, a schema not migrated), or when the worker stopped itself on an
   * error (NUVOM_E_WORKER_CRASHED: its threads cannot start, its claim loop failed).
   */
  readonly done: Promise<void>;
  /** Drains (running jobs finish within the grace period, others go back to the queue) and stops. */
  stop(opts?: { force?: boolean }): Promise<void>;
  stats(): { threads: number; busyThreads: number; running: number; done: number; failed: number };
  /** Loads task modules afresh in new threads; old threads finish their running jobs, then end. */
  reload(): Promise<void>;
}

export interface WorkerPoolService {
  start(opts?: WorkerOptions): Promise<RunningWorker>;
}

export interface SchedulerService {
  schedule(task: { name: string; options: TaskOptionsSnapshot }, trigger: Trigger, args: unknown[]): Promise<ScheduleHandle>;
  list(opts?: { includeFinished?: boolean }): Promise<ScheduleEntry[]>;
  cancel(id: string): Promise<boolean>;
  /** One pass: turns due entries into jobs; returns how many jobs it made. */
  tick(now?: number): Promise<number>;
  /** Runs passes every pollSecs until stopped. */
  run(opts?: { pollSecs?: number }): { stop(): Promise<void>; done: Promise<void> };
}

export interface DiscoveredManifest { root: string; tasks: Array<{ name: string }> }

/** The parts of the discovery service other plugins use (builtin-plugins/discovery has the full types). */
export interface DiscoveryService {
  discover(opts: { root: string; manifestPath: string; include?: string[]; exclude?: string[]; write?: boolean }): Promise<{
    manifest: { tasks: Array<{ name: string }> };
    diff: { added: unknown[]; removed: unknown[]; modified: unknown[] };
    problems: Array<{ file: string; line: number; column: number; message: string }>;
    written: boolean;
  }>;
  /** With `projectRoot`, a manifest whose root is not that folder (or inside it) is refused too. */
  loadManifest(path: string, projectRoot?: string): DiscoveredManifest;
  isManifestStale(manifest: DiscoveredManifest, root?: string): boolean;
}

declare module '../kernel/plugin.ts' {
  interface Services {
    registry: RegistryService;
    jobs: JobsService;
    workerPool: WorkerPoolService;
    scheduler: SchedulerService;
    discovery: DiscoveryService;
  }
}
