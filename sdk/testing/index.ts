/**
 * `nuvom/testing`: the conformance kit. One behavioural suite per storage contract (queue, result
 * store, schedule store), defined once as data and run two ways:
 *
 * - inside mocha: `queueConformance('sqlite', factory)` defines `describe('sqlite')` with one `it`
 *   per behaviour (uses mocha's global describe/it);
 * - without mocha: `runQueueConformance(factory)` resolves to `[{ name, ok, error? }]`, which is what
 *   `nuvom plugin test` prints.
 *
 * Every case gets a fresh instance from the factory. After the case the kit calls the instance's
 * `close()` and then the factory's `cleanup()` (if given), so `cleanup` is the place to delete files.
 * Must never: depend on a particular backend, or need mocha to be loaded (only the mocha wrappers do).
 */
import type { JobStore, Queue, ResultStore, ScheduleStore, Serializer } from '../plugin.ts';
import type { ConformanceCase } from './fixtures.ts';
import { queueCases, type QueueCaseContext } from './queue-suite.ts';
import { resultStoreCases, type ResultStoreCaseContext } from './result-store-suite.ts';
import { scheduleStoreCases, type ScheduleStoreCaseContext } from './schedule-store-suite.ts';
import { jobStoreCases, type JobStoreCaseContext } from './job-store-suite.ts';

export { queueCases, type QueueCaseContext } from './queue-suite.ts';
export { resultStoreCases, type ResultStoreCaseContext } from './result-store-suite.ts';
export { scheduleStoreCases, type ScheduleStoreCaseContext } from './schedule-store-suite.ts';
export { jobStoreCases, type JobStoreCaseContext } from './job-store-suite.ts';
export {
  bytesOf, makeJobOptions, makeJobRecord, makeQueuedJob, makeScheduleEntry, uniqueId, waitFor,
  type ConformanceCase,
} from './fixtures.ts';

/** Builds a fresh, empty queue for one case. */
export type QueueFactory = () => Promise<{ queue: Queue; cleanup?: () => Promise<void> }>;
/** Builds a fresh, empty result store for one case. The store encodes values itself. */
export type ResultStoreFactory = () => Promise<{ store: ResultStore; cleanup?: () => Promise<void> }>;
/**
 * Builds a fresh, empty combined job store for one case (JobStore: its queue and result store as a
 * deployment would use them, the same file where that matters). `close()` is called on the store,
 * then on its queue and its result store.
 */
export type JobStoreFactory = () => Promise<{ store: JobStore; serializer?: Pick<Serializer, 'encode'>; cleanup?: () => Promise<void> }>;
/** Builds a fresh, empty schedule store for one case. */
export type ScheduleStoreFactory = () => Promise<{ store: ScheduleStore; cleanup?: () => Promise<void> }>;

export interface ConformanceResult {
  name: string;
  ok: boolean;
  /** Why the case failed (assertion message, thrown error, timeout). */
  error?: string;
}

export interface RunOptions {
  /** Per case, including setup and cleanup; default 10 000 ms. */
  timeoutMs?: number;
  /** Runs only the cases whose name this accepts. */
  filter?: (name: string) => boolean;
}

/** The two mocha globals the wrappers use, typed locally so the published build needs no @types/mocha. */
interface MochaGlobals {
  describe?: (title: string, body: () => void) => unknown;
  it?: (title: string, body: () => Promise<void>) => unknown;
}

/** What the generic runner needs: how to open an instance as a case context, and how to dispose it. */
type Opener<Ctx> = () => Promise<{ ctx: Ctx; dispose: () => Promise<void> }>;

function queueOpener(factory: QueueFactory): Opener<QueueCaseContext> {
  return async () => {
    const { queue, cleanup } = await factory();
    return { ctx: { queue }, dispose: disposer(() => queue.close(), cleanup) };
  };
}

function resultStoreOpener(factory: ResultStoreFactory): Opener<ResultStoreCaseContext> {
  return async () => {
    const { store, cleanup } = await factory();
    return { ctx: { store }, dispose: disposer(() => store.close(), cleanup) };
  };
}

function jobStoreOpener(factory: JobStoreFactory): Opener<JobStoreCaseContext> {
  return async () => {
    const { store, serializer, cleanup } = await factory();
    const close = async () => {
      try { await store.close(); } finally {
        try { await store.queue.close(); } finally { await store.results.close(); }
      }
    };
    return { ctx: { store, serializer }, dispose: disposer(close, cleanup) };
  };
}

function scheduleStoreOpener(factory: ScheduleStoreFactory): Opener<ScheduleStoreCaseContext> {
  return async () => {
    const { store, cleanup } = await factory();
    return { ctx: { store }, dispose: disposer(() => store.close(), cleanup) };
  };
}

/** close() then cleanup(); cleanup runs even when close throws, and the first error wins. */
function disposer(close: () => Promise<void>, cleanup?: () => Promise<void>): () => Promise<void> {
  return async () => {
    let failure: unknown;
    try { await close(); } catch (err) { failure = err; }
    try { await cleanup?.(); } catch (err) { failure ??= err; }
    if (failure !== undefined) throw failure;
  };
}

/** Runs one case on a fresh instance; the case's own failure is reported before a cleanup failure. */
async function runCase<Ctx>(open: Opener<Ctx>, c: ConformanceCase<Ctx>): Promise<void> {
  let opened: { ctx: Ctx; dispose: () => Promise<void> };
  try {
    opened = await open();
  } catch (err) {
    throw prefixed('the factory failed', err);
  }
  let failure: unknown;
  try {
    await c.run(opened.ctx);
  } catch (err) {
    failure = err;
  }
  try {
    await opened.dispose();
  } catch (err) {
    failure ??= prefixed('close/cleanup failed', err);
  }
  if (failure !== undefined) throw failure;
}

function prefixed(what: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${what}: ${message}`, { cause: err });
}

function defineSuite<Ctx>(label: string, cases: readonly ConformanceCase<Ctx>[], open: Opener<Ctx>): void {
  const { describe, it } = globalThis as MochaGlobals;
  if (typeof describe !== 'function' || typeof it !== 'function') {
    throw new Error('the mocha wrappers of nuvom/testing need mocha\'s global describe/it; outside mocha use runQueueConformance, runResultStoreConformance or runScheduleStoreConformance');
  }
  describe(label, () => {
    for (const c of cases) it(c.name, () => runCase(open, c));
  });
}

async function runSuite<Ctx>(cases: readonly ConformanceCase<Ctx>[], open: Opener<Ctx>, opts: RunOptions): Promise<ConformanceResult[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const results: ConformanceResult[] = [];
  for (const c of cases) {
    if (opts.filter && !opts.filter(c.name)) continue;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([runCase(open, c), timeout]);
      results.push({ name: c.name, ok: true });
    } catch (err) {
      results.push({ name: c.name, ok: false, error: err instanceof Error ? err.message : String(err) });
    } finally {
      clearTimeout(timer);
    }
  }
  return results;
}

/** Defines `describe(label)` with one mocha `it` per queue behaviour. */
export function queueConformance(label: string, factory: QueueFactory): void {
  defineSuite(label, queueCases, queueOpener(factory));
}

/** Defines `describe(label)` with one mocha `it` per result store behaviour. */
export function resultStoreConformance(label: string, factory: ResultStoreFactory): void {
  defineSuite(label, resultStoreCases, resultStoreOpener(factory));
}

/** Defines `describe(label)` with one mocha `it` per schedule store behaviour. */
export function scheduleStoreConformance(label: string, factory: ScheduleStoreFactory): void {
  defineSuite(label, scheduleStoreCases, scheduleStoreOpener(factory));
}

/** Defines `describe(label)` with one mocha `it` per case of a combined job store. */
export function jobStoreConformance(label: string, factory: JobStoreFactory): void {
  defineSuite(label, jobStoreCases, jobStoreOpener(factory));
}

/** Runs every queue case without mocha, one after another; never rejects for a failing case. */
export function runQueueConformance(factory: QueueFactory, opts: RunOptions = {}): Promise<ConformanceResult[]> {
  return runSuite(queueCases, queueOpener(factory), opts);
}

export function runResultStoreConformance(factory: ResultStoreFactory, opts: RunOptions = {}): Promise<ConformanceResult[]> {
  return runSuite(resultStoreCases, resultStoreOpener(factory), opts);
}

export function runJobStoreConformance(factory: JobStoreFactory, opts: RunOptions = {}): Promise<ConformanceResult[]> {
  return runSuite(jobStoreCases, jobStoreOpener(factory), opts);
}

export function runScheduleStoreConformance(factory: ScheduleStoreFactory, opts: RunOptions = {}): Promise<ConformanceResult[]> {
  return runSuite(scheduleStoreCases, scheduleStoreOpener(factory), opts);
}

/**
 * Reference implementations (the built-in memory backends): a starting point for a new backend and a
 * baseline to compare against. `nuvom plugin scaffold --capability queue_backend` extends MemoryQueue.
 */
export { MemoryQueue, MemoryResultStore, MemoryScheduleStore, MemoryJobStore } from '../../builtin-plugins/memory/index.ts';
