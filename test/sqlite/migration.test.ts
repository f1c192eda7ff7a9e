/**
 * Schema v1 -> v2: test/sqlite/fixtures/v1.db, written by nuvom at 7b4adf2 (make-v1-db.ts says how),
 * opens under the current code with nothing lost: pending jobs run, a job whose worker died runs
 * again, delayed and retrying jobs keep their times, finished ones stay in history, the schedule fires.
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

const V1 = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'v1.db');
const T = Date.UTC(2026, 0, 15, 9, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function columns(file: string, table: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
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

describe('sqlite schema v1 -> v2 migration', () => {
  let file: string;
  let client: Client;

  beforeEach(async () => {
    const dir = tempProject();
    file = path.join(dir, 'nuvom.db');
    fs.copyFileSync(V1, file);
    expect(userVersion(file)).to.equal(1);
    client = await testClient({ cwd: dir, config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite', sqlitePath: file } });
  });
  afterEach(async () => { await client.close(); });
  after(() => cleanupTempProjects());

  it('stamps the file v2 and adds the history column and the nullable columns of the one-row design', async () => {
    expect(SCHEMA_VERSION).to.equal(2);
    await opened(client); // the file is opened when the services are first used
    expect(userVersion(file)).to.equal(2);
    expect(columns(file, 'nuvom_results')).to.include.members(['history', 'queue_name', 'dedupe_key', 'parent_id', 'progress']);
    expect(columns(file, 'nuvom_queue')).to.include.members(['queue_name', 'dedupe_key', 'parent_id']);
  });

  it('keeps the finished jobs in history, every field as v1 wrote it, with an empty attempt history', async () => {
    const success = await client.getJob('v1-success');
    expect(success).to.deep.include({
      status: 'SUCCESS', attempts: 1, args: [9, 10], result: { sum: 19 }, createdAt: iso(T), startedAt: iso(T + 3_000),
      completedAt: iso(T + 3_500), workerId: 'v1-worker', tags: ['v1'], maxRetries: 2, history: [],
    });
    expect(await client.getJob('v1-failed')).to.deep.include({
      status: 'FAILED', attempts: 3, completedAt: iso(T + 4_500),
      error: { name: 'TypeError', message: 'v1 failed for good', stack: 'TypeError: v1 failed for good\n    at v1 (task.ts:2:2)' },
    });
    expect(await client.getJob('v1-cancelled')).to.include({ status: 'CANCELLED', completedAt: iso(T + 5_000) });
    const all = await client.listJobs({ limit: 100 });
    expect(all.map((r) => r.id).sort()).to.deep.equal(['v1-cancelled', 'v1-delayed', 'v1-failed', 'v1-leased', 'v1-pending', 'v1-retrying', 'v1-success']);
  });

  it('runs the pending job and the one whose worker died, and leaves the delayed and retrying jobs waiting at their times', async () => {
    const queue = client.kernel.resolve('queue');
    const worker = await client.startWorker({ threads: 1, concurrency: 2 });
    try {
      const [pending, leased] = await waitFor(async () => {
        const recs = await Promise.all(['v1-pending', 'v1-leased'].map((id) => client.getJob(id)));
        return recs.every((r) => r?.status === 'SUCCESS') ? recs : null;
      }, { timeoutMs: 30_000, what: 'the v1 pending and leased jobs to succeed' });
      expect(pending).to.deep.include({ result: 3, attempts: 1 });
      expect(leased).to.deep.include({ result: 15, attempts: 2 });
      // v1 kept no history, but the RUNNING record says who ran attempt 1: it is LOST, then attempt 2 ran.
      expect(leased!.history!.map((a) => [a.attempt, a.outcome, a.startedAt, a.workerId])).to.deep.equal([
        [1, 'LOST', iso(T + 2_000), 'v1-dead-worker'], [2, 'SUCCESS', leased!.startedAt, leased!.workerId],
      ]);
    } finally {
      await worker.stop();
    }
    const delayed = await queue.get('v1-delayed');
    expect(delayed).to.include({ runAt: Date.UTC(2099, 0, 1), attempts: 0 });
    expect(await client.getJob('v1-delayed')).to.include({ status: 'PENDING', nextRunAt: iso(Date.UTC(2099, 0, 1)) });
    const retrying = await queue.get('v1-retrying');
    expect(retrying).to.include({ runAt: Date.UTC(2098, 5, 1), attempts: 1 });
    expect(await client.getJob('v1-retrying')).to.deep.include({
      status: 'RETRYING', attempts: 1, nextRunAt: iso(Date.UTC(2098, 5, 1)),
      error: { name: 'Error', message: 'v1 attempt 1 failed', stack: 'Error: v1 attempt 1 failed\n    at v1 (task.ts:1:1)' },
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
    expect(made.filter((r) => !r.id.startsWith('v1-')).map((r) => r.args)).to.deep.equal([[20, 22]]);
  });

  it('opens a migrated file again without change', async () => {
    await opened(client);
    await client.close();
    client = await testClient({ cwd: path.dirname(file), config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite', sqlitePath: file } });
    await opened(client);
    expect(userVersion(file)).to.equal(2);
    expect(columns(file, 'nuvom_results').filter((c) => c === 'history')).to.have.length(1);
    expect((await client.getJob('v1-success'))?.result).to.deep.equal({ sum: 19 });
  });
});
