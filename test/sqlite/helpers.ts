/**
 * Shared helpers for the SQLite plugin tests: temp directories, a tiny JSON serializer, complete values
 * of the contract types, and child processes that start together on a "go" line.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobOptions, JobRecord, QueuedJob, ScheduleEntry, Serializer } from '../../sdk/plugin.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(REPO_ROOT, 'test/sqlite/fixtures');

/** A JSON serializer, enough for these tests (the real msgpack one is a separate plugin). */
export const jsonSerializer: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

/** A temp directory per test; call `cleanup()` in afterEach. */
export function tempDir(): { dir: string; file: (name?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-sqlite-test-'));
  return { dir, file: (name = 'nuvom.db') => path.join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let seq = 0;
export function newId(prefix = 'job'): string {
  seq += 1;
  return `${prefix}-${process.pid}-${seq}`;
}

export function jobOptions(overrides: Partial<JobOptions> = {}): JobOptions {
  return { maxRetries: 0, retryDelaySecs: 1, backoff: 'fixed', timeoutSecs: 30, timeoutPolicy: 'retry', storeResult: true, tags: [], ...overrides };
}

export function queuedJob(overrides: Partial<QueuedJob> = {}): QueuedJob {
  const now = Date.now();
  return {
    id: newId(), taskName: 'test.task', args: new Uint8Array([1, 2, 3]), priority: 0, runAt: now, attempts: 0,
    createdAt: now, options: jobOptions(), meta: {}, ...overrides,
  };
}

export function jobRecord(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: newId('rec'), taskName: 'test.task', args: [1, 'two'], status: 'PENDING', attempts: 0, maxRetries: 0,
    retriesLeft: 0, priority: 0, tags: [], createdAt: new Date().toISOString(), startedAt: null, completedAt: null,
    nextRunAt: null, result: undefined, error: null, timeoutSecs: 30, timeoutPolicy: 'retry', workerId: null, history: [], ...overrides,
  };
}

export function scheduleEntry(overrides: Partial<ScheduleEntry> = {}): ScheduleEntry {
  const now = Date.now();
  return {
    id: newId('sched'), taskName: 'test.task', args: new Uint8Array([9]), priority: 0, options: jobOptions(),
    kind: 'interval', everySecs: 1, cron: null, timezone: null, misfire: 'skip', nextRunAt: now + 60_000,
    lastRunAt: null, status: 'ACTIVE', createdAt: now, ...overrides,
  };
}

/** A running fixture script (test/sqlite/fixtures/<script>) under `node --import tsx`. */
export interface Fixture {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once the child printed "ready". */
  ready: Promise<void>;
  /** Resolves with the child's last stdout line parsed as JSON, once it exits with code 0. */
  result: Promise<unknown>;
}

export function startFixture(script: string, args: string[]): Fixture {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(FIXTURES, script), ...args], { cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const result = new Promise<unknown>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`fixture ${script} exited with ${code ?? signal}: ${stderr}`));
        return;
      }
      const lines = stdout.trim().split('\n');
      resolve(JSON.parse(lines[lines.length - 1]));
    });
  });
  // A child that dies before "ready" must fail the test, not hang it.
  const readyOrDead = Promise.race([ready, result.then(() => { throw new Error(`fixture ${script} exited before it was ready`); })]);
  return { child, ready: readyOrDead, result };
}

/** Starts every fixture, waits until all are ready, then lets them go at once; resolves with their results. */
export async function raceFixtures(fixtures: Fixture[]): Promise<unknown[]> {
  try {
    await Promise.all(fixtures.map((f) => f.ready));
    for (const f of fixtures) f.child.stdin.end('go\n');
    return await Promise.all(fixtures.map((f) => f.result));
  } finally {
    for (const f of fixtures) if (f.child.exitCode === null) f.child.kill();
  }
}

/** Resolves with `promise`, or rejects if it has not settled within `ms` (a deadline, not a sleep). */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
