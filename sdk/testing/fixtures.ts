/**
 * Fixtures for the conformance kit and for plugin authors' own tests: complete, valid values of the
 * contract types with unique ids, so a test states only the fields it cares about.
 * Must never: depend on a backend, or on mocha (the kit also runs without it).
 */
import type { JobOptions, JobRecord, QueuedJob, ScheduleEntry } from '../plugin.ts';

let counter = 0;

/** A unique id: a sortable counter plus randomness, so ids from two processes do not collide. */
export function uniqueId(prefix = 'job'): string {
  counter += 1;
  return `${prefix}-${counter.toString(36).padStart(6, '0')}-${Math.random().toString(36).slice(2, 10)}`;
}

export function makeJobOptions(overrides: Partial<JobOptions> = {}): JobOptions {
  return {
    maxRetries: 0,
    retryDelaySecs: 5,
    backoff: 'fixed',
    timeoutSecs: 30,
    timeoutPolicy: 'retry',
    storeResult: true,
    tags: [],
    ...overrides,
  };
}

/** A new (never claimed) job, ready now unless `runAt` says otherwise. */
export function makeQueuedJob(overrides: Partial<QueuedJob> = {}): QueuedJob {
  const now = Date.now();
  return {
    id: uniqueId('job'),
    taskName: 'conformance.task',
    args: new Uint8Array([0x93, 0x01, 0x02, 0x03]),
    priority: 0,
    runAt: now,
    attempts: 0,
    createdAt: now,
    options: makeJobOptions(),
    meta: {},
    ...overrides,
  };
}

/** A PENDING record with every field of the contract set; timestamps in `toISOString()` form. */
export function makeJobRecord(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: uniqueId('rec'),
    taskName: 'conformance.task',
    args: [1, 'two', { three: 3 }],
    status: 'PENDING',
    attempts: 0,
    maxRetries: 0,
    retriesLeft: 0,
    priority: 0,
    tags: [],
    createdAt: new Date().toISOString(),
    startedAt: null,
    completedAt: null,
    nextRunAt: null,
    result: null,
    error: null,
    timeoutSecs: 30,
    timeoutPolicy: 'retry',
    workerId: null,
    history: [],
    ...overrides,
  };
}

/** An ACTIVE interval entry (every 60 s) whose next fire time is a minute from now. */
export function makeScheduleEntry(overrides: Partial<ScheduleEntry> = {}): ScheduleEntry {
  const now = Date.now();
  return {
    id: uniqueId('sched'),
    taskName: 'conformance.task',
    args: new Uint8Array([0x92, 0x05, 0x07]),
    priority: 0,
    options: makeJobOptions(),
    kind: 'interval',
    everySecs: 60,
    cron: null,
    timezone: null,
    misfire: 'skip',
    nextRunAt: now + 60_000,
    lastRunAt: null,
    status: 'ACTIVE',
    createdAt: now,
    ...overrides,
  };
}

/** Bytes as a plain array, so a Buffer and a Uint8Array with the same content compare equal. */
export function bytesOf(bytes: Uint8Array): number[] {
  return Array.from(bytes);
}

/**
 * Resolves once `check()` returns true, polling on the event loop (setImmediate, then short timers)
 * until `timeoutMs`; rejects with `what` after that. For tests that must wait for an event that a
 * backend delivers asynchronously; never a fixed sleep.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let spins = 0;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    spins += 1;
    await new Promise<void>((resolve) => (spins < 50 ? setImmediate(resolve) : setTimeout(resolve, 5)));
  }
}

/** One behaviour of a contract, defined once and run by both the mocha and the programmatic runner. */
export interface ConformanceCase<Ctx> {
  /** Reads as a sentence after the implementation's name ("claims higher priority first"). */
  name: string;
  run(ctx: Ctx): Promise<void>;
}
