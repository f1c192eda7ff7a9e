import { expect } from 'chai';
import type { Client, RunningWorker } from '../../sdk/index.ts';
import { settledJob, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/in-process-tasks.ts';
import { nuvom, project } from '../cli/helpers.ts';

describe('worker pool: in-process mode (threads 0)', function () {
  this.timeout(30_000);
  let client: Client & { logLines: string[] };
  let worker: RunningWorker | null = null;

  beforeEach(async () => {
    client = await testClient();
  });
  afterEach(async () => {
    await worker?.stop({ force: true });
    worker = null;
    await client.close();
  });
  after(() => cleanupTempProjects());

  it('runs async jobs on the worker main thread and records their results', async () => {
    worker = await client.startWorker({ threads: 0, concurrency: 4 });
    const hs = await t.where.map([[1], [2], [3]]);
    expect(await Promise.all(hs.map((h) => h.result({ timeoutSecs: 10 })))).to.deep.equal([1, 2, 3].map((x) => ({ x, mainThread: true })));
    const rec = await client.getJob(hs[0].id);
    expect(rec).to.include({ status: 'SUCCESS', attempts: 1, workerId: worker.id });
  });

  it('takes threads 0 from NUVOM_MAX_WORKERS=0', async () => {
    await client.close();
    client = await testClient({ config: { maxWorkers: '0' } });
    worker = await client.startWorker();
    const h = await t.where.delay(7);
    expect(await h.result({ timeoutSecs: 10 })).to.deep.equal({ x: 7, mainThread: true });
  });

  it('refuses a negative thread count, saying what is allowed', async () => {
    const err = await client.startWorker({ threads: -1 }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_CONFIG');
    expect(err.message).to.contain('threads must be a whole number >= 0');
  });

  it('refuses a memory limit, which in-process no thread would apply, saying what to do instead', async () => {
    const err = await client.startWorker({ threads: 0, memoryLimitMb: 64 }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_CONFIG');
    expect(err.message).to.contain('memoryLimitMb (64) limits each worker thread\'s heap').and.contain('in-process mode').and.contain('--max-old-space-size');
  });

  it('warns that NUVOM_MEMORY_LIMIT_MB limits nothing in-process, and runs', async () => {
    await client.close();
    client = await testClient({ config: { maxWorkers: '0', memoryLimitMb: '64' } });
    worker = await client.startWorker();
    expect(client.logLines.join('\n')).to.contain('NUVOM_MEMORY_LIMIT_MB (memoryLimitMb 64) has no effect in-process (threads 0)');
    const h = await t.where.delay(3);
    expect(await h.result({ timeoutSecs: 10 })).to.deep.equal({ x: 3, mainThread: true });
  });

  it('leaves its event loop to other work while it drains a burst: timers and messages of its process run between jobs', async () => {
    // A user's in-process worker shares the event loop with the rest of the process (a server, a
    // BroadcastChannel): it must yield between batches, not run the whole queue in one go.
    const n = 3000;
    const hs = await t.where.map(Array.from({ length: n }, (_, i) => [i]));
    const seenAt: number[] = [];
    const ch = new BroadcastChannel('in-process-test');
    const peer = new BroadcastChannel('in-process-test');
    const heard: number[] = [];
    peer.onmessage = () => { heard.push(worker?.stats().done ?? 0); };
    const tick = setInterval(() => { seenAt.push(worker?.stats().done ?? 0); ch.postMessage('ping'); }, 5);
    try {
      worker = await client.startWorker({ threads: 0, concurrency: 10 });
      await waitFor(async () => worker!.stats().done >= n, { what: 'the burst to be done', timeoutMs: 25_000 });
    } finally {
      clearInterval(tick);
      ch.close();
      peer.close();
    }
    expect(seenAt.filter((done) => done > 0 && done < n).length, `timer ticks while jobs remained (done counts at ticks: ${seenAt.slice(0, 20).join(', ')}, ...)`).to.be.at.least(2);
    expect(heard.filter((done) => done > 0 && done < n).length, 'channel messages heard while jobs remained').to.be.at.least(2);
    expect(await settledJob(client, hs[n - 1].id)).to.include({ status: 'SUCCESS' });
  });

  it('retries a failing job until it succeeds', async () => {
    worker = await client.startWorker({ threads: 0 });
    const h = await t.flaky.delay(3);
    expect(await h.result({ timeoutSecs: 10 })).to.equal(3);
    expect(await client.getJob(h.id)).to.include({ status: 'SUCCESS', attempts: 3 });
  });

  it('times a job out by aborting its signal', async () => {
    worker = await client.startWorker({ threads: 0 });
    const h = await t.untilAborted.delay();
    const rec = await settledJob(client, h.id);
    expect(rec.status).to.equal('FAILED');
    expect(rec.error).to.include({ name: 'TimeoutError' });
  });

  it('times out a short-timeout job that started after a long-timeout one, on its own deadline', async () => {
    worker = await client.startWorker({ threads: 0, concurrency: 2 });
    const long = await t.wait.delay(60_000);
    await waitFor(async () => (await client.getJob(long.id))?.status === 'RUNNING', { what: 'the long job to run' });
    const short = await t.untilAborted.delay();
    const rec = await settledJob(client, short.id, 10_000);
    expect(rec.error).to.include({ name: 'TimeoutError' });
    expect((await client.getJob(long.id))!.status).to.equal('RUNNING');
  });

  it('abandons each attempt of a job that ignores its timeout (the first one still "runs"), ends it, and frees the slot', async () => {
    worker = await client.startWorker({ threads: 0, concurrency: 1, graceMs: 200 } as never);
    const deaf = await t.deafTwice.delay();
    const rec = await settledJob(client, deaf.id, 15_000);
    expect(rec).to.include({ status: 'FAILED', attempts: 2 });
    expect(rec.error).to.include({ name: 'TimeoutError' });
    // The slot is free again: the next job runs.
    const next = await t.where.delay(1);
    expect(await settledJob(client, next.id, 15_000)).to.include({ status: 'SUCCESS' });
  });

  it('abandons a job that ignores its timeout after the grace period, and frees its slot', async () => {
    worker = await client.startWorker({ threads: 0, concurrency: 1, graceMs: 200 } as never);
    const deaf = await t.deaf.delay();
    const next = await t.where.delay(1);
    const rec = await settledJob(client, deaf.id);
    expect(rec.status).to.equal('FAILED');
    expect(rec.error).to.include({ name: 'TimeoutError' });
    expect(await next.result({ timeoutSecs: 10 })).to.deep.equal({ x: 1, mainThread: true });
    expect(client.logLines.join('\n')).to.contain(`job ${deaf.id} did not stop within 200 ms of its timeout; it runs on in-process, abandoned`);
  });

  it('cancels a running job by aborting its signal', async () => {
    worker = await client.startWorker({ threads: 0 });
    const h = await t.wait.delay(60_000);
    await waitFor(async () => (await client.getJob(h.id))?.status === 'RUNNING', { what: 'the job to run' });
    expect(await client.cancelJob(h.id)).to.equal('signalled');
    const err = await h.result({ timeoutSecs: 15 }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_JOB_CANCELLED');
  });

  it('drains on stop: a job that finishes within the drain period succeeds, one that does not goes back to the queue', async () => {
    worker = await client.startWorker({ threads: 0, concurrency: 2, drainMs: 300 });
    const quick = await t.wait.delay(100);
    const long = await t.wait.delay(60_000);
    await waitFor(async () => (await client.getJob(long.id))?.status === 'RUNNING' && (await client.getJob(quick.id))?.status === 'RUNNING', { what: 'both jobs to run' });
    await worker.stop();
    expect(await client.getJob(quick.id)).to.include({ status: 'SUCCESS', result: 'done' });
    const back = await client.getJob(long.id);
    expect(back).to.include({ status: 'PENDING', attempts: 1 });
    expect(back!.history!.at(-1)).to.include({ outcome: 'INTERRUPTED' });
  });
});

describe('nuvom runworker --threads 0 (a real process, SQLite)', function () {
  this.timeout(120_000);
  after(() => cleanupTempProjects());

  it('runs the queued jobs in-process and says so at start', async () => {
    const p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    const e = await nuvom(p, ['enqueue', 'add', '2', '3']);
    expect(e.code, e.stderr).to.equal(0);
    const id = e.stdout.trim();
    const w = await nuvom(p, ['runworker', '--threads', '0', '--burst']);
    expect(w.code, w.stderr).to.equal(0);
    expect(w.stderr).to.match(/started: in-process \(threads 0\)/);
    const s = await nuvom(p, ['status', id]);
    expect(s.stdout, s.stdout).to.match(new RegExp(`^${id} add SUCCESS attempts=1`));
  });

  it('refuses --memory-limit-mb (exit 2), which would limit nothing in-process', async () => {
    const p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    const w = await nuvom(p, ['runworker', '--threads', '0', '--memory-limit-mb', '64', '--burst']);
    expect(w.code, w.stderr).to.equal(2);
    expect(w.stderr).to.contain('--memory-limit-mb 64 limits each worker thread\'s heap').and.contain('(NUVOM_E_USAGE)');
  });

  it('logs a promise a task left rejected and goes on with its jobs (Node would end the process, with them)', async () => {
    const p = project({ 'more.mjs': `import { task } from 'nuvom';
export const floating = task({ name: 'floating' }, async () => { Promise.reject(new Error('forgotten promise')); await new Promise((r) => setTimeout(r, 50)); return 'ok'; });
export const nap = task({ name: 'nap' }, async (ms) => { await new Promise((r) => setTimeout(r, ms)); return ms; });
` });
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    const ids: string[] = [];
    for (const args of [['nap', '300'], ['floating'], ['nap', '300']]) ids.push((await nuvom(p, ['enqueue', ...args])).stdout.trim());
    const w = await nuvom(p, ['runworker', '--threads', '0', '--concurrency', '4', '--burst']);
    expect(w.code, w.stderr).to.equal(0);
    expect(w.stderr).to.contain('a task left a promise rejected with nothing to catch it (in-process mode: this worker goes on): Error: forgotten promise');
    for (const id of ids) expect((await nuvom(p, ['status', id])).stdout).to.match(/ SUCCESS /);
  });
});
