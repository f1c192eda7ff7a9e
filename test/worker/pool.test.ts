import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, RunningWorker } from '../../sdk/index.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects, tempProject, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

describe('worker pool', function () {
  this.timeout(30_000);
  let client: Client & { logLines: string[] };
  let worker: RunningWorker;

  before(async () => {
    client = await testClient();
    worker = await client.startWorker({ threads: 2, concurrency: 2 });
  });
  after(async () => {
    await client.close();
    cleanupTempProjects();
  });

  it('runs a job in a worker thread and resolves its result', async () => {
    const h = await t.add.delay(5, 7);
    expect(await h.result({ timeoutSecs: 10 })).to.equal(12);
    const rec = await client.getJob(h.id);
    expect(rec).to.include({ status: 'SUCCESS', attempts: 1, taskName: 'wt.add', result: 12 });
    expect(rec!.workerId).to.equal(worker.id);
    expect(rec!.startedAt).to.be.a('string');
  });

  it('gives the task its job through currentJob()', async () => {
    const h = await t.whoAmI.delay();
    expect(await h.result({ timeoutSecs: 10 })).to.deep.equal({ id: h.id, taskName: 'wt.whoAmI', attempt: 1, hasSignal: true });
  });

  it('maps argument lists to jobs in order', async () => {
    const hs = await t.add.map([[1, 2], [3, 4], [5, 6]]);
    expect(await Promise.all(hs.map((h) => h.result({ timeoutSecs: 10 })))).to.deep.equal([3, 7, 11]);
  });

  it("rejects result() with the task's own error name, message and stack", async () => {
    const h = await t.boom.delay();
    const err = await h.result({ timeoutSecs: 10 }).catch((e) => e);
    expect(err.name).to.equal('TypeError');
    expect(err.message).to.equal('bad input: expected a number');
    expect(err.stack).to.contain('worker-tasks.ts');
    const rec = await client.getJob(h.id);
    expect(rec!.status).to.equal('FAILED');
    expect(rec!.error).to.include({ name: 'TypeError', message: 'bad input: expected a number' });
  });

  it('retries a failing job with its delay until it succeeds, counting attempts', async () => {
    const h = await t.flaky.delay(3);
    const seen = new Set<string>();
    const poll = setInterval(() => void client.getJob(h.id).then((r) => r && seen.add(r.status)), 5);
    try {
      expect(await h.result({ timeoutSecs: 10 })).to.equal(3);
    } finally {
      clearInterval(poll);
    }
    const rec = await client.getJob(h.id);
    expect(rec).to.include({ status: 'SUCCESS', attempts: 3, maxRetries: 3, retriesLeft: 1 });
    expect(seen.has('RETRYING')).to.equal(true);
  });

  it('marks a job FAILED once its retries are used up', async () => {
    const h = await t.flaky.enqueue({ args: [10], retries: 1, retryDelaySecs: 0 });
    const err = await h.result({ timeoutSecs: 10 }).catch((e) => e);
    expect(err.message).to.equal('attempt 2 fails');
    expect(await client.getJob(h.id)).to.include({ status: 'FAILED', attempts: 2, retriesLeft: 0 });
  });

  it('stops a runaway CPU loop at its timeout and keeps serving other jobs', async () => {
    const runaway = await t.spin.delay();
    const err = await runaway.result({ timeoutSecs: 15 }).catch((e) => e);
    expect(err.name).to.equal('TimeoutError');
    const rec = (await client.getJob(runaway.id))!;
    expect(rec).to.include({ status: 'FAILED', attempts: 1 });
    // The attempt names the thread it ran on, ended since (Node's Worker then says -1).
    expect(rec.history![0].threadId).to.be.a('number').and.be.greaterThan(0);
    const after = await t.add.delay(1, 1);
    expect(await after.result({ timeoutSecs: 10 })).to.equal(2);
    await waitFor(() => worker.stats().threads === 2, { what: 'the pool back at 2 threads' });
  });

  it('retries a timed-out job under the retry policy', async () => {
    const h = await t.spinRetry.delay();
    await h.result({ timeoutSecs: 15 }).catch(() => undefined);
    expect(await client.getJob(h.id)).to.include({ status: 'FAILED', attempts: 2 });
  });

  it('records a timed-out job as SUCCESS with no result under the ignore policy', async () => {
    const h = await t.spinIgnore.delay();
    expect(await h.result({ timeoutSecs: 15 })).to.equal(undefined);
    expect(await client.getJob(h.id)).to.include({ status: 'SUCCESS', result: null });
  });

  it("aborts the job's signal on timeout so a cooperative task stops by itself", async () => {
    const before = worker.stats().threads;
    const h = await t.politeWait.delay();
    const err = await h.result({ timeoutSecs: 10 }).catch((e) => e);
    expect(err.name).to.equal('TimeoutError');
    expect(worker.stats().threads).to.equal(before);
  });

  it('runs async jobs concurrently inside one thread', async () => {
    const c = await testClient();
    const w = await c.startWorker({ threads: 1, concurrency: 5 });
    try {
      const hs = await Promise.all([1, 2, 3, 4, 5].map(() => c.enqueue('wt.gather', [5])));
      expect(await Promise.all(hs.map((h) => h.result({ timeoutSecs: 10 })))).to.deep.equal([true, true, true, true, true]);
    } finally {
      await w.stop();
      await c.close();
    }
  });

  it('fails a job whose task ends the thread with process.exit, and replaces the thread', async () => {
    const h = await t.exitProcess.delay();
    const err = await h.result({ timeoutSecs: 10 }).catch((e) => e);
    expect(err.message).to.contain('worker thread running this job died');
    await waitFor(() => worker.stats().threads === 2, { what: 'a replacement thread' });
    expect(await (await t.add.delay(2, 2)).result({ timeoutSecs: 10 })).to.equal(4);
  });

  it('fires beforeJob, afterJob and onError in the worker', async () => {
    const file = path.join(tempProject(), 'hooks.log');
    await (await t.hooked.delay(file, false)).result({ timeoutSecs: 10 });
    await (await t.hooked.delay(file, true)).result({ timeoutSecs: 10 }).catch(() => undefined);
    expect(readFileSync(file, 'utf8').trim().split('\n')).to.deep.equal(['before 1', 'after ok', 'before 1', 'error hooked failure']);
  });

  it('does not keep the result when storeResult is false', async () => {
    const h = await t.noResult.delay();
    expect(await h.result({ timeoutSecs: 10 })).to.equal(undefined);
    expect(await client.getJob(h.id)).to.include({ status: 'SUCCESS', result: null });
  });

  it('fails a job whose task is unknown to the worker with a clear error', async () => {
    const h = await client.enqueue('no.such.task', [1]);
    const err = (await h.result({ timeoutSecs: 10 }).catch((e) => e)) as Error;
    expect(err.message).to.contain('task "no.such.task" is unknown to this worker').and.contain('nuvom discover tasks');
  });

  it('cancels a running job by aborting its signal', async () => {
    const h = await t.slow.enqueue({ args: [60_000] });
    await waitFor(async () => (await client.getJob(h.id))?.status === 'RUNNING', { what: 'the job to run' });
    expect(await client.cancelJob(h.id)).to.equal('signalled');
    const err = await h.result({ timeoutSecs: 15 }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_JOB_CANCELLED');
  });
});
