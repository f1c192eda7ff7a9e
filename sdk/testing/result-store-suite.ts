/**
 * The result store conformance cases (kernel/contracts.ts `ResultStore`): one JobRecord shape from
 * every backend, exact round trips, filters, pagination, stats and purge. Times are fixed epochs far
 * from now, so no case depends on the clock.
 * Must never: use values that only one serializer can carry (Dates, Maps, bigints, undefined);
 * records hold JSON-safe values.
 */
import assert from 'node:assert/strict';
import { isNuvomError, type AttemptRecord, type JobRecord, type JobStatus, type ListJobsFilter, type ResultStore } from '../plugin.ts';
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

function attempt(n: number, outcome: AttemptRecord['outcome'], startMs: number | null, endMs: number | null, more: Partial<AttemptRecord> = {}): AttemptRecord {
  return { attempt: n, startedAt: startMs === null ? null : iso(startMs), endedAt: endMs === null ? null : iso(endMs), outcome, error: null, workerId: 'w1', threadId: 1, ...more };
}

const BOOM = { name: 'Error', message: 'boom 1', stack: 'Error: boom 1\n    at run (task.ts:3:9)' };

/** What a worker writes as a job runs: the record in a state, carrying only the attempt it knows of. */
function step(base: JobRecord, status: JobStatus, attempts: number, history: AttemptRecord[], more: Partial<JobRecord> = {}): JobRecord {
  return { ...base, status, attempts, history, ...more };
}

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
    name: 'listJobs filters by idPrefix (case-sensitive, combined with the other filters) and refuses an empty one',
    async run({ store }) {
      const mk = (id: string, k: number, taskName = 'a') => makeJobRecord({ id, taskName, createdAt: iso(T + k) });
      const recs = [mk('0190abcd-0001', 1), mk('0190abcd-0002', 2, 'b'), mk('0190abce-0003', 3), mk('0190ABCD-0004', 4), mk('0190abc', 5), mk('x0190abcd', 6)];
      await store.putMany(structuredClone(recs));
      assert.deepEqual(ids(await store.listJobs({ idPrefix: '0190abcd' })), ['0190abcd-0002', '0190abcd-0001']);
      assert.deepEqual(ids(await store.listJobs({ idPrefix: '0190abc' })), ['0190abc', '0190abce-0003', '0190abcd-0002', '0190abcd-0001']);
      assert.deepEqual(ids(await store.listJobs({ idPrefix: '0190abcd-0001' })), ['0190abcd-0001']);
      assert.deepEqual(ids(await store.listJobs({ idPrefix: '0190abcd', task: 'b' })), ['0190abcd-0002']);
      assert.deepEqual(ids(await store.listJobs({ idPrefix: '0190abcd', limit: 1, order: 'asc' })), ['0190abcd-0001']);
      assert.deepEqual(await store.listJobs({ idPrefix: '0190abcf' }), []);
      assert.deepEqual(await store.listJobs({ idPrefix: 'zzz' }), []);
      await assert.rejects(store.listJobs({ idPrefix: '' }), (err: NodeJS.ErrnoException) => err.code === 'NUVOM_E_USAGE');
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
  {
    name: 'history: put then getFull round-trips a record with its attempts exactly (errors with and without stack)',
    async run({ store }) {
      const history = [
        attempt(1, 'RETRIED', T - 50_000, T - 49_000, { error: BOOM }),
        attempt(2, 'TIMED_OUT', T - 40_000, T - 39_000, { error: { name: 'TimeoutError', message: 'ran past 1s', stack: null }, threadId: null }),
        attempt(3, 'SUCCESS', T - 30_000, T - 1_000, { workerId: 'host-1:123:w0' }),
      ];
      const record = successRecord({ attempts: 3, history });
      await store.put(structuredClone(record));
      assert.deepStrictEqual(await store.getFull(record.id), record);
      assert.deepStrictEqual((await store.listJobs({ task: record.taskName }))[0].history, history);
    },
  },
  {
    name: 'history: each put merges its attempts into the stored ones (failed twice, then succeeded: both errors kept)',
    async run({ store }) {
      const base = makeJobRecord({ createdAt: iso(T), maxRetries: 2 });
      const err2 = { name: 'TypeError', message: 'boom 2', stack: null };
      await store.put(step(base, 'PENDING', 0, []));
      await store.put(step(base, 'RUNNING', 1, [], { startedAt: iso(T + 1_000), workerId: 'w1' }));
      await store.put(step(base, 'RETRYING', 1, [attempt(1, 'RETRIED', T + 1_010, T + 2_000, { error: BOOM })], { error: BOOM }));
      await store.put(step(base, 'RUNNING', 2, [], { startedAt: iso(T + 3_000), workerId: 'w1' }));
      await store.putMany([step(base, 'RETRYING', 2, [attempt(2, 'RETRIED', T + 3_010, T + 4_000, { error: err2 })], { error: err2 })]);
      await store.put(step(base, 'RUNNING', 3, [], { startedAt: iso(T + 5_000), workerId: 'w1' }));
      await store.put(step(base, 'SUCCESS', 3, [attempt(3, 'SUCCESS', T + 5_010, T + 6_000)], { result: 42 }));
      const got = await store.getFull(base.id);
      assert.ok(got);
      assert.deepStrictEqual(got.history, [
        attempt(1, 'RETRIED', T + 1_010, T + 2_000, { error: BOOM }),
        attempt(2, 'RETRIED', T + 3_010, T + 4_000, { error: err2 }),
        attempt(3, 'SUCCESS', T + 5_010, T + 6_000),
      ]);
    },
  },
  {
    name: 'history: a put without attempts keeps the stored ones, so a re-run (retry of a FAILED job) adds to them',
    async run({ store }) {
      const base = makeJobRecord({ createdAt: iso(T) });
      const failed = attempt(1, 'FAILED', T + 1_000, T + 2_000, { error: BOOM });
      await store.put(step(base, 'FAILED', 1, [failed], { error: BOOM }));
      const { history: _omitted, ...noHistory } = step(base, 'PENDING', 0, []);
      await store.put(noHistory as JobRecord); // a writer that predates the field
      await store.put(step(base, 'PENDING', 0, []));
      assert.deepStrictEqual((await store.getFull(base.id))?.history, [failed]);
      await store.put(step(base, 'RUNNING', 1, [], { startedAt: iso(T + 9_000), workerId: 'w1' }));
      await store.put(step(base, 'SUCCESS', 1, [attempt(1, 'SUCCESS', T + 9_010, T + 9_500)]));
      assert.deepStrictEqual((await store.getFull(base.id))?.history, [failed, attempt(1, 'SUCCESS', T + 9_010, T + 9_500)]);
    },
  },
  {
    name: 'history: a RUNNING attempt overtaken by a later one without its end becomes LOST (its start and worker kept)',
    async run({ store }) {
      const lost = makeJobRecord({ createdAt: iso(T) });
      await store.put(step(lost, 'RUNNING', 1, [], { startedAt: iso(T + 1_000), workerId: 'dead' }));
      await store.put(step(lost, 'RUNNING', 2, [], { startedAt: iso(T + 9_000), workerId: 'w2' }));
      const lostEntry = attempt(1, 'LOST', T + 1_000, T + 9_000, { workerId: 'dead', threadId: null });
      assert.deepStrictEqual((await store.getFull(lost.id))?.history, [lostEntry]);
      await store.put(step(lost, 'SUCCESS', 2, [attempt(2, 'SUCCESS', T + 9_010, T + 9_500, { workerId: 'w2' })], { startedAt: iso(T + 9_010), workerId: 'w2' }));
      assert.deepStrictEqual((await store.getFull(lost.id))?.history, [lostEntry, attempt(2, 'SUCCESS', T + 9_010, T + 9_500, { workerId: 'w2' })]);
    },
  },
  {
    name: 'history: a claim given back unstarted leaves no entry; one given back mid-run is INTERRUPTED with its start',
    async run({ store }) {
      const unstarted = makeJobRecord({ createdAt: iso(T) });
      await store.put(step(unstarted, 'RUNNING', 1, [], { startedAt: iso(T + 1_000), workerId: 'w1' }));
      await store.put(step(unstarted, 'PENDING', 0, [], { startedAt: null, workerId: null }));
      assert.deepStrictEqual((await store.getFull(unstarted.id))?.history, []);
      const midRun = makeJobRecord({ createdAt: iso(T) });
      await store.put(step(midRun, 'RUNNING', 1, [], { startedAt: iso(T + 1_000), workerId: 'w1' }));
      await store.put(step(midRun, 'PENDING', 1, [attempt(1, 'INTERRUPTED', null, T + 2_000, { threadId: null })], { startedAt: null, workerId: null }));
      assert.deepStrictEqual((await store.getFull(midRun.id))?.history, [attempt(1, 'INTERRUPTED', T + 1_000, T + 2_000, { threadId: null })]);
    },
  },
  {
    name: 'history: only the last 25 attempts are kept',
    async run({ store }) {
      const base = makeJobRecord({ createdAt: iso(T), maxRetries: 40 });
      for (let n = 1; n <= 30; n++) {
        await store.put(step(base, 'RETRYING', n, [attempt(n, 'RETRIED', T + n * 1_000, T + n * 1_000 + 500, { error: { name: 'Error', message: `boom ${n}`, stack: null } })]));
      }
      const got = (await store.getFull(base.id))?.history ?? [];
      assert.deepEqual(got.map((a) => a.attempt), Array.from({ length: 25 }, (_, i) => i + 6));
    },
  },
  {
    name: 'history: a malformed attempt is refused with NUVOM_E_USAGE naming the job, and nothing is written',
    async run({ store }) {
      const good = makeJobRecord({ createdAt: iso(T) });
      const bad = { ...makeJobRecord({ createdAt: iso(T) }), history: [{ attempt: 1, outcome: 'EXPLODED' }] } as unknown as JobRecord;
      await assert.rejects(store.putMany([good, bad]), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NUVOM_E_USAGE');
        assert.match(err.message, new RegExp(`job ${bad.id}.*EXPLODED`));
        return true;
      });
      assert.equal(await store.getFull(good.id), null);
      assert.equal(await store.getFull(bad.id), null);
    },
  },
  {
    name: 'invalid input: listJobs refuses a bad filter with NUVOM_E_USAGE naming the field',
    async run({ store }) {
      await store.put(makeJobRecord());
      const bad: Array<[string, Record<string, unknown>]> = [
        ['status', { status: 'DONE' }], ['status', { status: ['FAILED', 'nope'] }], ['task', { task: 5 }],
        ['limit', { limit: -1 }], ['limit', { limit: 1.5 }], ['offset', { offset: 'x' }], ['order', { order: 'up' }],
        ['createdBefore', { createdBefore: 'yesterday' }], ['createdAfter', { createdAfter: Number.NaN }],
      ];
      for (const [field, filter] of bad) {
        await assert.rejects(store.listJobs(filter as ListJobsFilter), (err: unknown) => {
          assert.ok(isNuvomError(err, 'NUVOM_E_USAGE'), `listJobs(${JSON.stringify(filter)}): expected NUVOM_E_USAGE, got ${String(err)}`);
          assert.match((err as Error).message, new RegExp(field), `the message does not name ${field}`);
          return true;
        });
      }
      assert.equal((await store.listJobs({ status: [], limit: 10 })).length, 0, 'an empty status list matches nothing');
    },
  },
  {
    name: 'invalid input: putMany refuses a record with an unknown status, no id or a bad date (NUVOM_E_USAGE) and writes none of the batch',
    async run({ store }) {
      for (const spoil of [{ status: 'DONE' }, { id: '' }, { createdAt: 'soon' }, { attempts: -1 }]) {
        const good = makeJobRecord();
        const bad = { ...makeJobRecord(), ...spoil } as unknown as JobRecord;
        await assert.rejects(store.putMany([good, bad]), (err: unknown) => isNuvomError(err, 'NUVOM_E_USAGE'), `putMany with ${JSON.stringify(spoil)}`);
        assert.equal(await store.getFull(good.id), null, `a refused putMany (${JSON.stringify(spoil)}) wrote the good record`);
      }
    },
  },
]);
