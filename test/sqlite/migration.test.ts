/**
 * Schema v1 and v2 -> v4 (one row per job, v3; without the created_at index, v4), and v3 -> v4:
 * test/sqlite/fixtures/v1.db, written by nuvom at 7b4adf2 (make-v1-db.ts), v2.db, written at f791859
 * (make-v2-db.ts), and v3.db, written at 245be8a (make-v3-db.ts), open under the current code with
 * nothing lost: pending jobs run, a job whose worker died runs again, delayed and retrying jobs keep
 * their times, finished ones stay in history with their attempts, the schedule fires, and (v2, v3)
 * the worker heartbeat is still listed.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '../../sdk/index.ts';
import { SCHEMA_VERSION } from '../../builtin-plugins/sqlite/schema.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects, tempProject, waitFor } from '../helpers/tmp.ts';
import '../fixtures/migration-tasks.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const T = Date.UTC(2026, 0, 15, 9, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function tables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  } finally {
    db.close();
  }
}

function columns(file: string, table: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
  } finally {
    db.close();
  }
}

function indexes(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all() as string[];
  } finally {
    db.close();
  }
}

function userVersion(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

async function opened(client: Client): Promise<void> {
  await client.kernel.resolve('queue').counts();
  await client.listJobs({ limit: 1 });
  await client.kernel.resolve('scheduler').list();
}

for (const v of [1, 2, 3]) describe(`sqlite schema v${v} -> v4 migration`, () => {
  const p = `v${v}-`;
  let file: string;
  let client: Client;

  beforeEach(async () => {
    const dir = tempProject();
    file = path.join(dir, 'nuvom.db');
    fs.copyFileSync(path.join(FIXTURES, `v${v}.db`), file);
    expect(userVersion(file)).to.equal(v);
    client = await testClient({ cwd: dir, config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite', sqlitePath: file } });
  });
  afterEach(async () => { await client.close(); });
  after(() => cleanupTempProjects());

  it('stamps the file v4, with one row per job and no index on created_at alone', async () => {
    expect(SCHEMA_VERSION).to.equal(4);
    await opened(client); // the file is opened when the services are first used
    expect(userVersion(file)).to.equal(4);
    expect(indexes(file)).to.include.members(['nuvom_jobs_status', 'nuvom_jobs_task', 'nuvom_jobs_claim']).and.not.include('nuvom_jobs_created');
    expect(tables(file)).to.include('nuvom_jobs').and.not.include.members(['nuvom_queue', 'nuvom_results']);
    expect(columns(file, 'nuvom_jobs')).to.include.members(['history', 'queue_name', 'dedupe_key', 'parent_id', 'progress', 'state', 'status']);
    const db = new Database(file, { readonly: true });
    try {
      // one row per job: 4 queued (pending, delayed, retrying, leased), each with its record, and 3 finished
      expect(db.prepare('SELECT COUNT(*) FROM nuvom_jobs').pluck().get()).to.equal(7);
      expect(db.prepare('SELECT COUNT(*) FROM nuvom_jobs WHERE state IS NOT NULL AND status IS NOT NULL').pluck().get()).to.equal(4);
    } finally {
      db.close();
    }
  });

  it('keeps the finished jobs in history, every field as it was written, with their attempts', async () => {
    const success = await client.getJob(`${p}success`);
    expect(success).to.deep.include({
      status: 'SUCCESS', attempts: 1, args: [9, 10], result: { sum: 19 }, createdAt: iso(T), startedAt: iso(T + 3_000),
      completedAt: iso(T + 3_500), workerId: `${p}worker`, tags: [`v${v}`], maxRetries: 2, history: [],
    });
    const failed = await client.getJob(`${p}failed`);
    expect(failed).to.deep.include({
      status: 'FAILED', attempts: 3, completedAt: iso(T + 4_500),
      error: { name: 'TypeError', message: `v${v} failed for good`, stack: `TypeError: v${v} failed for good\n    at v${v} (task.ts:2:2)` },
    });
    // v1 kept no attempts; v2's three are carried over
    expect(failed!.history!.map((a) => [a.attempt, a.outcome])).to.deep.equal(v === 1 ? [] : [[1, 'RETRIED'], [2, 'RETRIED'], [3, 'FAILED']]);
    expect(await client.getJob(`${p}cancelled`)).to.include({ status: 'CANCELLED', completedAt: iso(T + 5_000) });
    const all = await client.listJobs({ limit: 100 });
    expect(all.map((r) => r.id).sort()).to.deep.equal(['cancelled', 'delayed', 'failed', 'leased', 'pending', 'retrying', 'success'].map((x) => p + x));
  });

  it('runs the pending job and the one whose worker died, and leaves the delayed and retrying jobs waiting at their times', async () => {
    const queue = client.kernel.resolve('queue');
    const worker = await client.startWorker({ threads: 1, concurrency: 2 });
    try {
      const [pending, leased] = await waitFor(async () => {
        const recs = await Promise.all([`${p}pending`, `${p}leased`].map((id) => client.getJob(id)));
        return recs.every((r) => r?.status === 'SUCCESS') ? recs : null;
      }, { timeoutMs: 30_000, what: `the v${v} pending and leased jobs to succeed` });
      expect(pending).to.deep.include({ result: 3, attempts: 1 });
      expect(leased).to.deep.include({ result: 15, attempts: 2 });
      // The RUNNING record says who ran attempt 1, which never ended: it is LOST, then attempt 2 ran.
      expect(leased!.history!.map((a) => [a.attempt, a.outcome, a.startedAt, a.workerId])).to.deep.equal([
        [1, 'LOST', iso(T + 2_000), `${p}dead-worker`], [2, 'SUCCESS', leased!.startedAt, leased!.workerId],
      ]);
    } finally {
      await worker.stop();
    }
    const delayed = await queue.get(`${p}delayed`);
    expect(delayed).to.include({ runAt: Date.UTC(2099, 0, 1), attempts: 0 });
    expect(await client.getJob(`${p}delayed`)).to.include({ status: 'PENDING', nextRunAt: iso(Date.UTC(2099, 0, 1)) });
    const retrying = await queue.get(`${p}retrying`);
    expect(retrying).to.include({ runAt: Date.UTC(2098, 5, 1), attempts: 1 });
    expect(await client.getJob(`${p}retrying`)).to.deep.include({
      status: 'RETRYING', attempts: 1, nextRunAt: iso(Date.UTC(2098, 5, 1)),
      error: { name: 'Error', message: `v${v} attempt 1 failed`, stack: `Error: v${v} attempt 1 failed\n    at v${v} (task.ts:1:1)` },
    });
    expect(await queue.counts()).to.include({ ready: 0, delayed: 2, leased: 0 });
  });

  it('keeps the schedule, which fires at its stored time and moves on by its interval', async () => {
    const scheduler = client.kernel.resolve('scheduler');
    const [entry] = await scheduler.list();
    expect(entry).to.include({ taskName: 'mig.add', kind: 'interval', everySecs: 60, status: 'ACTIVE' });
    const due = entry.nextRunAt!;
    expect(await scheduler.tick(due - 1)).to.equal(0);
    expect(await scheduler.tick(due)).to.equal(1);
    const [after] = await scheduler.list();
    expect(after.nextRunAt).to.equal(due + 60_000);
    const made = await client.listJobs({ task: 'mig.add', status: 'PENDING', limit: 100 });
    expect(made.filter((r) => !r.id.startsWith(p)).map((r) => r.args)).to.deep.equal([[20, 22]]);
  });

  if (v >= 2) {
    it('keeps the worker heartbeats', async () => {
      const beats = await (client.kernel.resolve('resultStore') as unknown as { listHeartbeats(): Promise<Array<{ workerId: string; periodMs: number }>> }).listHeartbeats();
      expect(beats.map((b) => [b.workerId, b.periodMs])).to.deep.equal([[`v${v}-host:42:abc`, 5_000]]);
    });
  }

  it('opens a migrated file again without change', async () => {
    await opened(client);
    await client.close();
    client = await testClient({ cwd: path.dirname(file), config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite', sqlitePath: file } });
    await opened(client);
    expect(userVersion(file)).to.equal(4);
    expect(columns(file, 'nuvom_jobs').filter((c) => c === 'history')).to.have.length(1);
    expect((await client.getJob(`${p}success`))?.result).to.deep.equal({ sum: 19 });
    expect((await client.listJobs({ limit: 100 })).length).to.equal(7);
  });
});
