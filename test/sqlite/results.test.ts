import { expect } from 'chai';
import Database from 'better-sqlite3';
import { isNuvomError, type JobRecord } from '../../sdk/plugin.ts';
import { SqliteResultStore } from '../../builtin-plugins/sqlite/results.ts';
import { jobRecord, jsonSerializer, tempDir } from './helpers.ts';

const T = Date.UTC(2025, 0, 15, 10, 0, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

describe('sqlite result store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteResultStore;

  beforeEach(() => {
    tmp = tempDir();
    store = new SqliteResultStore({ path: tmp.file(), serializer: jsonSerializer });
  });
  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('round-trips a whole record: ISO timestamps, decoded args and result, the error object', async () => {
    const record: JobRecord = jobRecord({
      args: [1, { deep: ['x', null] }], status: 'FAILED', attempts: 3, maxRetries: 2, retriesLeft: 0, priority: 4,
      tags: ['a', 'b'], createdAt: iso(T), startedAt: iso(T + 10), completedAt: iso(T + 20), nextRunAt: iso(T + 5),
      result: { partial: true }, error: { name: 'RangeError', message: 'too big', stack: 'RangeError: too big\n  at x' },
      timeoutSecs: 1.5, timeoutPolicy: 'fail', workerId: 'host:1:w0',
    });
    await store.put(structuredClone(record));
    expect(await store.getFull(record.id)).to.deep.equal(record);
  });

  it('tells a missing result (undefined) from a null result', async () => {
    const none = jobRecord({ status: 'SUCCESS', result: undefined });
    const nil = jobRecord({ status: 'SUCCESS', result: null });
    await store.putMany([none, nil]);
    expect(await store.getFull(none.id)).to.have.property('result', undefined);
    expect(await store.getFull(nil.id)).to.have.property('result', null);
  });

  it('replaces the whole record on a second put, so an old error does not outlive a success', async () => {
    const failed = jobRecord({ status: 'RETRYING', error: { name: 'Error', message: 'first try', stack: null } });
    await store.put(failed);
    await store.put({ ...failed, status: 'SUCCESS', error: null, result: 42 });
    expect(await store.getError(failed.id)).to.equal(null);
    expect(await store.getFull(failed.id)).to.include({ status: 'SUCCESS', error: null, result: 42 });
  });

  it('throws NUVOM_E_DESERIALIZE naming the job when a stored blob does not decode', async () => {
    const record = jobRecord({ status: 'SUCCESS', result: 'fine' });
    await store.put(record);
    const raw = new Database(tmp.file());
    raw.prepare('UPDATE nuvom_jobs SET result = ? WHERE id = ?').run(Buffer.from([0xff, 0x00, 0x12]), record.id);
    raw.close();
    let caught: unknown;
    try { await store.getFull(record.id); } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_DESERIALIZE')).to.equal(true);
    expect((caught as Error).message).to.include(record.id);
  });

  it('stores nothing from a putMany whose values the serializer refuses', async () => {
    const good = jobRecord();
    const bad = jobRecord({ result: 1n as unknown });
    let caught: unknown;
    try { await store.putMany([good, bad]); } catch (err) { caught = err; }
    expect(caught).to.be.instanceOf(Error);
    expect(await store.getFull(good.id)).to.equal(null);
  });

  it('filters by status, a list of statuses, task and creation window', async () => {
    const r = [
      jobRecord({ taskName: 'a', status: 'PENDING', createdAt: iso(T) }),
      jobRecord({ taskName: 'a', status: 'FAILED', createdAt: iso(T + 1000) }),
      jobRecord({ taskName: 'b', status: 'SUCCESS', createdAt: iso(T + 2000) }),
      jobRecord({ taskName: 'b', status: 'FAILED', createdAt: iso(T + 3000) }),
    ];
    await store.putMany(r);
    const ids = (list: JobRecord[]) => list.map((x) => x.id);
    expect(ids(await store.listJobs({ status: 'FAILED' }))).to.deep.equal([r[3].id, r[1].id]);
    expect(ids(await store.listJobs({ status: ['PENDING', 'SUCCESS'] }))).to.deep.equal([r[2].id, r[0].id]);
    expect(ids(await store.listJobs({ task: 'b', status: 'FAILED' }))).to.deep.equal([r[3].id]);
    expect(ids(await store.listJobs({ createdAfter: iso(T + 1000), createdBefore: T + 3000 }))).to.deep.equal([r[2].id, r[1].id]);
    expect(ids(await store.listJobs({ order: 'asc', limit: 2 }))).to.deep.equal([r[0].id, r[1].id]);
    expect(await store.listJobs({ status: [] })).to.deep.equal([]);
  });

  it('pages with limit and offset, newest first, ties broken by id', async () => {
    const records = Array.from({ length: 12 }, (_, n) => jobRecord({ id: `r${String(n).padStart(2, '0')}`, createdAt: iso(T + Math.floor(n / 3)) }));
    await store.putMany(records);
    const pages: string[] = [];
    for (let offset = 0; offset < 15; offset += 5) pages.push(...(await store.listJobs({ limit: 5, offset })).map((x) => x.id));
    expect(pages).to.deep.equal(records.map((x) => x.id).reverse());
  });

  it('lists several statuses in one created order across statuses, pages and windows included (schema v4 merges the status index runs)', async () => {
    const statuses = ['PENDING', 'RUNNING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELLED'] as const;
    // 60 records, statuses interleaved in time, several sharing a millisecond (ties by id)
    const records = Array.from({ length: 60 }, (_, i) => jobRecord({ id: `r${String(i).padStart(2, '0')}`, status: statuses[(i * 7) % 6], createdAt: iso(T + Math.floor(i / 3) * 10) }));
    await store.putMany(structuredClone(records));
    const order = (rs: JobRecord[], dir: 1 | -1) => [...rs].sort((a, b) => dir * (Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : 1))).map((r) => r.id);
    const ids = (rs: JobRecord[]) => rs.map((r) => r.id);
    const desc = order(records, -1);
    expect(ids(await store.listJobs({ limit: 100 }))).to.deep.equal(desc);
    expect(ids(await store.listJobs({ limit: 7, offset: 20 }))).to.deep.equal(desc.slice(20, 27));
    expect(ids(await store.listJobs({ order: 'asc', limit: 9, offset: 50 }))).to.deep.equal([...desc].reverse().slice(50, 59));
    const finals = records.filter((r) => r.status === 'SUCCESS' || r.status === 'FAILED');
    expect(ids(await store.listJobs({ status: ['SUCCESS', 'FAILED', 'SUCCESS'], limit: 100 }))).to.deep.equal(order(finals, -1));
    const window = records.filter((r) => Date.parse(r.createdAt) >= T + 50 && Date.parse(r.createdAt) < T + 120);
    expect(ids(await store.listJobs({ createdAfter: T + 50, createdBefore: T + 120, order: 'asc', limit: 100 }))).to.deep.equal(order(window, 1));
  });

  it('refuses a negative or fractional limit with NUVOM_E_USAGE', async () => {
    let caught: unknown;
    try { await store.listJobs({ limit: -1 }); } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_USAGE')).to.equal(true);
  });

  it('purges only final records older than the cut-off by default', async () => {
    const old = jobRecord({ status: 'SUCCESS', createdAt: iso(T - 5000), completedAt: iso(T - 4000) });
    const recent = jobRecord({ status: 'SUCCESS', createdAt: iso(T - 5000), completedAt: iso(T + 1) });
    const pending = jobRecord({ status: 'PENDING', createdAt: iso(T - 5000) });
    await store.putMany([old, recent, pending]);
    expect(await store.purge({ olderThan: T })).to.equal(1);
    expect(await store.getFull(old.id)).to.equal(null);
    expect((await store.listJobs()).map((x) => x.id)).to.have.members([recent.id, pending.id]);
  });

  it('computes stats by status and task, the oldest pending, and completions since a time', async () => {
    await store.putMany([
      jobRecord({ taskName: 'a', status: 'PENDING', createdAt: iso(T) }),
      jobRecord({ taskName: 'a', status: 'PENDING', createdAt: iso(T - 1000) }),
      jobRecord({ taskName: 'b', status: 'SUCCESS', createdAt: iso(T), completedAt: iso(T + 10) }),
      jobRecord({ taskName: 'b', status: 'FAILED', createdAt: iso(T), completedAt: iso(T - 10) }),
    ]);
    const stats = await store.stats(T);
    expect(stats.byStatus).to.deep.equal({ PENDING: 2, RUNNING: 0, RETRYING: 0, SUCCESS: 1, FAILED: 1, CANCELLED: 0 });
    expect(stats.byTask).to.deep.equal({ a: { PENDING: 2 }, b: { SUCCESS: 1, FAILED: 1 } });
    expect(stats.oldestPendingAt).to.equal(iso(T - 1000));
    expect(stats.completedSince).to.equal(1);
  });
});
