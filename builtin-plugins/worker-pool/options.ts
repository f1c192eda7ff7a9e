/**
 * What a WorkerPool is built from: its services (PoolDeps) and its options (PoolOptions). Kept apart
 * from state.ts so that the published declarations of WorkerPool reach only the public SDK types,
 * never the pool's internals (threads, timers).
 */
import type {
  HookBus, JobStore, Logger, NuvomConfig, Queue, RegistryService, ResultStore, Serializer, WorkerOptions,
} from '../../sdk/plugin.ts';

export interface PoolDeps {
  config: NuvomConfig;
  queue: Queue;
  resultStore: ResultStore;
  /** Claims (with their RUNNING records) and outcomes are written through it (see JobStore), by store.ts. */
  store: JobStore;
  serializer: Serializer;
  registry: RegistryService;
  bus: HookBus;
  logger: Logger;
}

export interface PoolOptions extends WorkerOptions {
  /** Time between aborting a timed-out job's signal and terminating its thread (abandoning it, in-process). */
  graceMs?: number;
  memoryLimitMb?: number;
  /** Idle poll when the queue offers no change notifications. */
  pollMs?: number;
}
