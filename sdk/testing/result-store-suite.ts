/**
 * The result store conformance cases (kernel/contracts.ts `ResultStore`): one JobRecord shape from
 * every backend, exact round trips, filters, pagination, stats and purge. Times are fixed epochs far
 * from now, so no case depends on the clock.
 * Must never: use values that only one serializer can carry (Dates, Maps, bigints, undefined);
 * records hold JSON-safe values.
 */
import assert from 'node:assert/strict';
import type { JobRecord, JobStatus, ResultStore } from '../plugin.ts';
import { makeJobRecord, type ConformanceCase } from './fixtures.ts';

export interface ResultStoreCaseContext {
  store: ResultStore;
}

/** 2024-03-01T12:00:00.000Z: a fixed "now" for the cases. */
const T = Date.UTC(2024, 2, 1, 12, 0, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();

const RICH_VALUE = {
  total: 12.5,
  count: 3,
  negative: -7,
  items: [1, 'x', { deep: [true, false, null] }],
  text: 'ünïcødé ✓ "quoted" \n newline',
  empty: {},
  list: [],
  nothing: null,
};

function successRecord(overrides: Partial<JobRecord> = {}): JobRecord {
  return makeJobRecord({
    taskName: 'reports.build',
    args: [5, 'seven', { nested: { list: [1, 2, { x: 'y' }] } }, [], null, true],
    status: 'SUCCESS',
    attempts: 2,
    maxRetries: 3,
    retriesLeft: 2,
    priority: 7,
    tags: ['nightly', 'reports'],
    createdAt: iso(T - 60_000),
    startedAt: iso(T - 30_000),
    completedAt: iso(T - 1_000),
    nextRunAt: iso(T - 45_000),
    result: RICH_VALUE,
    error: null,
    timeoutSecs: 120,
    timeoutPolicy: 'fail',
    workerId: 'host-1:123:w0',
    ...overrides,
  });
}

function failedRecord(overrides: Partial<JobRecord> = {}): JobRecord {
  return makeJobRecord({
    status: 'FAILED',
    attempts: 1,
    createdAt: iso(T - 5_000),
    startedAt: iso(T - 4_000),
    completedAt: iso(T - 3_000),
    error: { name: 'TypeError', message: 'bad "thing"', stack: 'TypeError: bad "thing"\n    at run (task.ts:3:9)' },
    timeoutPolicy: 'ignore',
    workerId: 'w1',
    ...overrides,
  });
}

/** byTask counts with zero entries dropped, since the contract's Partial lets a backend list them or not. */
function nonZero(byTask: Record<string, Partial<Record<JobStatus, number>>>): Record<string, Partial<Record<JobStatus, number>>> {
  const out: Record<string, Partial<Record<JobStatus, number>>> = {};
  for (const [task, counts] of Object.entries(byTask)) {
    const kept = Object.fromEntries(Object.entries(counts).filter(([, n]) => n !== 0 && n !== undefined));
    if (Object.keys(kept).length > 0) out[task] = kept;
  }
  return out;
}

/** The contract's default order: newest first by createdAt, then by id. */
function newestFirst(records: JobRecord[]): string[] {
  return [...records]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((r) => r.id);
}

const ids = (records: JobRecord[]): string[] => records.map((r) => r.id);

export const resultStoreCases: readonly ConformanceCase<ResultStoreCaseContext>[] = Object.freeze([
  {
    name: 'put then getFull round-trips a SUCCESS record exactly (every field, ISO timestamps, nested values)',
    async run({ store }) {
      const record = successRecord();
      await store.put(structuredClone(record));
      assert.deepStrictEqual(await store.getFull(record.id), record);
    },
  },
  {
    name: 'put then getFull round-trips FAILED records with an error object (stack or null stack)',
    async run({ store }) {
      const withStack = failedRecord();
      const noStack = failedRecord({ error: { name: 'Error', message: 'plain', stack: null }, status: 'RETRYING', completedAt: null, nextRunAt: iso(T + 5_000) });
      await store.put(structuredClone(withStack));
      await store.put(structuredClone(noStack));
      assert.deepStrictEqual(await store.getFull(withStack.id), withStack);
      assert.deepStrictEqual(await store.getFull(noStack.id), noStack);
    },
  },
  {
    name: 'unknown ids: getFull is null, getResult undefined, getError null',
    async run({ store }) {
      assert.equal(await store.getFull('no-such-job'), null);
      assert.equal(await store.getResult('no-such-job'), undefined);
      assert.equal(await store.getError('no-such-job'), null);
    },
  },
  {
    name: 'put upserts: a second put with the same id replaces the whole record',
    async run({ store }) {
      const pending = makeJobRecord({ createdAt: iso(T), tags: ['old'] });
      await store.put(pending);
      const done = successRecord({ id: pending.id, createdAt: pending.createdAt });
      await store.put(structuredClone(done));
      assert.deepStrictEqual(await store.getFull(pending.id), done);
      assert.deepEqual(ids(await store.listJobs()), [pending.id]);
    },
  },
  {
    name: 'putMany stores every record',
    async run({ store }) {
      const records = [makeJobRecord({ createdAt: iso(T - 2) }), successRecord({ createdAt: iso(T - 1) }), failedRecord({ createdAt: iso(T) })];
      await store.putMany(structuredClone(records));
      await store.putMany([]);
      for (const r of records) assert.deepStrictEqual(await store.getFull(r.id), r);
      assert.equal((await store.listJobs()).length, 3);
    },
  },
  {
    name: 'getResult returns the result of a SUCCESS record (falsy ones too) and undefined otherwise',
    async run({ store }) {
      const rich = successRecord();
      const zero = successRecord({ result: 0 });
      const failed = failedRecord({ result: 'ignored' });
      const pending = makeJobRecord({ result: null });
      await store.putMany(structuredClone([rich, zero, failed, pending]));
      assert.deepStrictEqual(await store.getResult(rich.id), RICH_VALUE);
      assert.equal(await store.getResult(zero.id), 0);
      assert.equal(await store.getResult(failed.id), undefined);
      assert.equal(await store.getResult(pending.id), undefined);
    },
  },
  {
    name: 'getError returns the error of a FAILED record and null for a successful one',
    async run({ store }) {
      const failed = failedRecord();
      const ok = successRecord();
      await store.putMany(structuredClone([failed, ok]));
      assert.deepStrictEqual(await store.getError(failed.id), failed.error);
      assert.equal(await store.getError(ok.id), null);
    },
  },
  {
    name: 'listJobs orders newest first by default (ties by id), oldest first with order asc',
    async run({ store }) {
      const records = [0, 3, 1, 3, 2, 3].map((k) => makeJobRecord({ createdAt: iso(T + k * 1000) }));
      await store.putMany(structuredClone(records));
      const desc = newestFirst(records);
      assert.deepEqual(ids(await store.listJobs()), desc);
      assert.deepEqual(ids(await store.listJobs({ order: 'desc' })), desc);
      assert.deepEqual(ids(await store.listJobs({ order: 'asc' })), [...desc].reverse());
    },
  },
  {
    name: 'listJobs filters by one status, by a list of statuses, and by task',
    async run({ store }) {
      const a1 = makeJobRecord({ taskName: 'a', status: 'PENDING', createdAt: iso(T - 4) });
      const a2 = failedRecord({ taskName: 'a', createdAt: iso(T - 3) });
      const b1 = successRecord({ taskName: 'b', createdAt: iso(T - 2) });
      const b2 = failedRecord({ taskName: 'b', createdAt: iso(T - 1) });
      await store.putMany(structuredClone([a1, a2, b1, b2]));
      assert.deepEqual(ids(await store.listJobs({ status: 'FAILED' })), [b2.id, a2.id]);
      assert.deepEqual(ids(await store.listJobs({ status: ['PENDING', 'SUCCESS'] })), [b1.id, a1.id]);
      assert.deepEqual(ids(await store.listJobs({ task: 'a' })), [a2.id, a1.id]);
      assert.deepEqual(ids(await store.listJobs({ task: 'b', status: 'FAILED' })), [b2.id]);
      assert.deepEqual(await store.listJobs({ task: 'nope' }), []);
    },
  },
  {
    name: 'listJobs filters by createdBefore (exclusive) and createdAfter (inclusive), ISO or epoch ms',
    async run({ store }) {
      const [r3, r2, r1, r0] = [3000, 2000, 1000, 0].map((ago) => makeJobRecord({ createdAt: iso(T - ago) }));
      await store.putMany(structuredClone([r3, r2, r1, r0]));
      assert.deepEqual(ids(await store.listJobs({ createdBefore: T - 1000 })), [r2.id, r3.id]);
      assert.deepEqual(ids(await store.listJobs({ createdBefore: iso(T - 1000) })), [r2.id, r3.id]);
      assert.deepEqual(ids(await store.listJobs({ createdAfter: iso(T - 1000) })), [r0.id, r1.id]);
      assert.deepEqual(ids(await store.listJobs({ createdAfter: T - 1000 })), [r0.id, r1.id]);
      assert.deepEqual(ids(await store.listJobs({ createdAfter: T - 2000, createdBefore: iso(T) })), [r1.id, r2.id]);
    },
  },
  {
    name: 'listJobs returns at most 50 records by default',
    async run({ store }) {
      const records = Array.from({ length: 60 }, (_, n) => makeJobRecord({ createdAt: iso(T + n) }));
      await store.putMany(records);
      const got = await store.listJobs();
      assert.equal(got.length, 50);
      assert.deepEqual(ids(got), newestFirst(records).slice(0, 50));
    },
  },
  {
    name: 'listJobs pages with limit and offset without overlap or gaps, ties included',
    async run({ store }) {
      const records = Array.from({ length: 23 }, (_, n) => makeJobRecord({ createdAt: iso(T + Math.floor(n / 4) * 1000) }));
      await store.putMany(structuredClone(records));
      const pages: string[] = [];
      for (let offset = 0; offset < 30; offset += 5) pages.push(...ids(await store.listJobs({ limit: 5, offset })));
      assert.deepEqual(pages, newestFirst(records));
      assert.deepEqual(await store.listJobs({ limit: 5, offset: 23 }), []);
    },
  },
  {
    name: 'stats counts by status and task, the oldest PENDING createdAt, and completions since a time',
    async run({ store }) {
      const since = T - 1000;
      const rec = (status: JobStatus, taskName: string, createdAgo: number, completedAt: number | null) =>
        makeJobRecord({ status, taskName, createdAt: iso(T - createdAgo), completedAt: completedAt === null ? null : iso(completedAt) });
      const oldestPending = rec('PENDING', 'b', 5000, null);
      await store.putMany([
        rec('PENDING', 'a', 3000, null), oldestPending, rec('RUNNING', 'a', 2000, null), rec('RETRYING', 'a', 2000, null),
        rec('SUCCESS', 'a', 9000, since), rec('SUCCESS', 'b', 9000, T - 2000),
        rec('FAILED', 'a', 9000, T - 500), rec('CANCELLED', 'b', 9000, T - 200),
      ]);
      const stats = await store.stats(since);
      assert.deepEqual(stats.byStatus, { PENDING: 2, RUNNING: 1, RETRYING: 1, SUCCESS: 2, FAILED: 1, CANCELLED: 1 });
      assert.deepEqual(nonZero(stats.byTask), {
        a: { PENDING: 1, RUNNING: 1, RETRYING: 1, SUCCESS: 1, FAILED: 1 },
        b: { PENDING: 1, SUCCESS: 1, CANCELLED: 1 },
      });
      assert.equal(stats.oldestPendingAt, oldestPending.createdAt);
      assert.equal(stats.completedSince, 2, 'SUCCESS or FAILED completed at or after `since`');
    },
  },
  {
    name: 'stats of an empty store is all zeros with no oldest pending',
    async run({ store }) {
      const stats = await store.stats(0);
      assert.deepEqual(stats.byStatus, { PENDING: 0, RUNNING: 0, RETRYING: 0, SUCCESS: 0, FAILED: 0, CANCELLED: 0 });
      assert.deepEqual(nonZero(stats.byTask), {});
      assert.equal(stats.oldestPendingAt, null);
      assert.equal(stats.completedSince, 0);
      assert.deepEqual(await store.listJobs(), []);
    },
  },
  {
    name: 'purge by default deletes final records completed (or created, if never completed) before olderThan',
    async run({ store }) {
      const old = T - 10_000;
      const purged = [
        successRecord({ createdAt: iso(old - 1), completedAt: iso(old) }),
        failedRecord({ createdAt: iso(old - 1), completedAt: iso(old) }),
        makeJobRecord({ status: 'CANCELLED', createdAt: iso(old - 1), completedAt: iso(old) }),
        makeJobRecord({ status: 'CANCELLED', createdAt: iso(old), completedAt: null }),
      ];
      const kept = [
        makeJobRecord({ status: 'PENDING', createdAt: iso(old) }),
        makeJobRecord({ status: 'RUNNING', createdAt: iso(old) }),
        successRecord({ createdAt: iso(old), completedAt: iso(T + 1000) }),
        successRecord({ createdAt: iso(T + 500), completedAt: iso(T + 1000) }),
      ];
      await store.putMany(structuredClone([...purged, ...kept]));
      assert.equal(await store.purge({ olderThan: T }), 4);
      for (const r of purged) assert.equal(await store.getFull(r.id), null);
      assert.deepEqual(new Set(ids(await store.listJobs())), new Set(ids(kept)));
    },
  },
  {
    name: 'purge with a status (one or a list) deletes only those statuses',
    async run({ store }) {
      const old = T - 10_000;
      const pending = makeJobRecord({ status: 'PENDING', createdAt: iso(old) });
      const running = makeJobRecord({ status: 'RUNNING', createdAt: iso(old) });
      const success = successRecord({ createdAt: iso(old), completedAt: iso(old) });
      const failed = failedRecord({ createdAt: iso(old), completedAt: iso(old) });
      await store.putMany(structuredClone([pending, running, success, failed]));
      assert.equal(await store.purge({ olderThan: T, status: 'PENDING' }), 1);
      assert.equal(await store.getFull(pending.id), null);
      assert.equal(await store.purge({ olderThan: T, status: ['SUCCESS', 'RUNNING'] }), 2);
      assert.deepEqual(ids(await store.listJobs()), [failed.id]);
      assert.equal(await store.purge({ olderThan: old, status: 'FAILED' }), 0, 'olderThan is exclusive');
    },
  },
  {
    name: 'stored records are not changed by mutating the object put or the object returned',
    async run({ store }) {
      const record = successRecord();
      const expected = structuredClone(record);
      await store.put(record);
      record.status = 'FAILED';
      record.tags.push('mutated');
      (record.result as { items: unknown[] }).items.push('mutated');
      const got = await store.getFull(record.id);
      assert.ok(got);
      got.tags.push('again');
      (got.result as { items: unknown[] }).items.push('again');
      assert.deepStrictEqual(await store.getFull(record.id), expected);
    },
  },
]);
