import { expect } from 'chai';
import Database from 'better-sqlite3';
import type { JobRecord } from '../../sdk/plugin.ts';
import { SqliteResultStore } from '../../builtin-plugins/sqlite/results.ts';
import { jobRecord, jsonSerializer, tempDir } from './helpers.ts';

const MIN = 60_000;
const T = Date.UTC(2025, 0, 15, 10, 0, 0, 0); // a whole minute
const iso = (ms: number) => new Date(ms).toISOString();

/** What the counters must equal: a full GROUP BY over the records. */
function truth(file: string): { counts: Record<string, number>; done: number } {
  const db = new Database(file, { readonly: true });
  try {
    const counts: Record<string, number> = {};
    for (const r of db.prepare('SELECT task_name, status, COUNT(*) AS n FROM nuvom_jobs WHERE status IS NOT NULL GROUP BY 1, 2').all() as Array<{ task_name: string; status: string; n: number }>) counts[`${r.task_name}/${r.status}`] = r.n;
    const done = (db.prepare(`SELECT COUNT(*) AS n FROM nuvom_jobs WHERE status IN ('SUCCESS','FAILED') AND completed_at IS NOT NULL`).get() as { n: number }).n;
    return { counts, done };
  } finally { db.close(); }
}

function flat(byTask: Record<string, Partial<Record<string, number>>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [t, by] of Object.entries(byTask)) for (const [s, n] of Object.entries(by)) if (n) out[`${t}/${s}`] = n;
  return out;
}

describe('sqlite result store: counters kept by triggers (stats without a full scan)', () => {
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

  it('stay equal to a full count through inserts, status moves, a reused id, purge and a raw SQL delete', async () => {
    const a = jobRecord({ taskName: 'a', createdAt: iso(T) });
    const b = jobRecord({ taskName: 'b', createdAt: iso(T) });
    const c = jobRecord({ taskName: 'a', createdAt: iso(T) });
    await store.putMany([a, b, c]);
    await store.put({ ...a, status: 'RUNNING', startedAt: iso(T + 1) });
    await store.put({ ...a, status: 'SUCCESS', startedAt: iso(T + 1), completedAt: iso(T + 5) });
    await store.put({ ...b, status: 'FAILED', startedAt: iso(T + 1), completedAt: iso(T + MIN + 5) });
    await store.put({ ...c, taskName: 'renamed', status: 'CANCELLED', completedAt: iso(T + 7) }); // identity changed: the full upsert
    await store.put({ ...b, status: 'PENDING', completedAt: null, error: null }); // retried
    const check = async () => {
      const t = truth(tmp.file());
      const s = await store.stats(0);
      expect(flat(s.byTask)).to.deep.equal(t.counts);
      expect(s.completedSince).to.equal(t.done);
    };
    await check();
    expect(await store.purge({ olderThan: T + 10 * MIN })).to.equal(2);
    await check();
    const db = new Database(tmp.file());
    db.prepare('DELETE FROM nuvom_jobs WHERE id = ?').run(b.id);
    db.close();
    await check();
    expect((await store.stats(0)).byStatus).to.deep.equal({ PENDING: 0, RUNNING: 0, RETRYING: 0, SUCCESS: 0, FAILED: 0, CANCELLED: 0 });
  });

  it('count completions since a time inside a minute exactly (whole minutes from counters, the rest from the index)', async () => {
    const done = (ms: number, status: 'SUCCESS' | 'FAILED' = 'SUCCESS'): JobRecord => jobRecord({ status, createdAt: iso(T), completedAt: iso(ms) });
    await store.putMany([done(T + 10), done(T + 20_000), done(T + 40_000, 'FAILED'), done(T + MIN), done(T + 3 * MIN + 1), jobRecord({ status: 'CANCELLED', createdAt: iso(T), completedAt: iso(T + 30_000) })]);
    expect((await store.stats(T + 20_000)).completedSince).to.equal(4);
    expect((await store.stats(T + 20_001)).completedSince).to.equal(3);
    expect((await store.stats(T + MIN)).completedSince).to.equal(2);
    expect((await store.stats(T + 4 * MIN)).completedSince).to.equal(0);
  });

  it('fill themselves from the records when a file written before them is opened', async () => {
    await store.putMany([jobRecord({ taskName: 'x', status: 'SUCCESS', createdAt: iso(T), completedAt: iso(T) }), jobRecord({ taskName: 'x' }), jobRecord({ taskName: 'y', status: 'FAILED', createdAt: iso(T), completedAt: iso(T) })]);
    await store.close();
    const db = new Database(tmp.file());
    for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'nuvom_jobs'`).all() as Array<{ name: string }>) db.exec(`DROP TRIGGER ${name}`);
    db.exec('DROP TABLE nuvom_results_counts; DROP TABLE nuvom_results_done;');
    db.close();
    store = new SqliteResultStore({ path: tmp.file(), serializer: jsonSerializer });
    const s = await store.stats(0);
    expect(s.byTask).to.deep.equal({ x: { SUCCESS: 1, PENDING: 1 }, y: { FAILED: 1 } });
    expect(s.completedSince).to.equal(2);
  });

  it('give completions per bucket, empty buckets included, and run times of the newest records per task', async () => {
    const now = Date.now();
    const from = Math.floor((now - 10 * MIN) / (5 * MIN)) * 5 * MIN;
    await store.putMany([
      jobRecord({ taskName: 'p', status: 'SUCCESS', createdAt: iso(from), startedAt: iso(from), completedAt: iso(from + 100) }),
      jobRecord({ taskName: 'p', status: 'FAILED', createdAt: iso(from + 1), startedAt: iso(from + 1), completedAt: iso(from + 301) }),
      jobRecord({ taskName: 'p', status: 'SUCCESS', createdAt: iso(from + 2), startedAt: iso(from + 2), completedAt: iso(from + 5 * MIN + 2) }),
      jobRecord({ taskName: 'p', status: 'PENDING', createdAt: iso(from + 3) }),
      jobRecord({ taskName: 'q', status: 'SUCCESS', createdAt: iso(from), startedAt: iso(from), completedAt: iso(from + 50) }),
    ]);
    const buckets = await store.completions(now - 10 * MIN, 5 * MIN);
    expect(buckets[0]).to.deep.equal({ at: from, success: 2, failed: 1 });
    expect(buckets[1]).to.deep.equal({ at: from + 5 * MIN, success: 1, failed: 0 });
    expect(buckets.length).to.equal(Math.floor((now - from) / (5 * MIN)) + 1);
    const times = await store.runTimes(2, 10);
    expect(times).to.deep.equal({ p: [5 * MIN, 300], q: [50] });
    expect(Object.keys(await store.runTimes(2, 1))).to.deep.equal(['p']);
  });
});
