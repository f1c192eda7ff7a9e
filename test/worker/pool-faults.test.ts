import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryQueue, MemoryResultStore } from '../../sdk/testing/index.ts';
import { definePlugin, NuvomError, type CancelOutcome, type JobRecord, type JobStatus } from '../../sdk/plugin.ts';
import { settledJob, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, memoryLogger, tempProject, waitFor } from '../helpers/tmp.ts';
import { FailureLog } from '../../builtin-plugins/worker-pool/failure-log.ts';
import { StatusLog } from '../../builtin-plugins/worker-pool/status-line.ts';
import * as pf from '../fixtures/pool-fault-tasks.ts';
import * as t from '../fixtures/worker-tasks.ts';

const BACKENDS = [
  { name: 'memory', config: {} },
  { name: 'file', config: { queueBackend: 'file', resultBackend: 'file' } },
  { name: 'SQLite', config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } },
];

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

describe('worker pool faults: outcome events follow the commit', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  for (const b of BACKENDS) {
    it(`a jobSucceeded tap that reads the record sees SUCCESS, every time (${b.name})`, async () => {
      const seen: Promise<JobStatus | undefined>[] = [];
      const reader = definePlugin({
        name: 'reader', apiVersion: 1,
        register(ctx) {
          ctx.hooks.jobSucceeded.tap('reader', (e) => {
            seen.push(ctx.resolve('resultStore').getFull(e.jobId).then((r) => r?.status));
          });
        },
      });
      const client = await testClient({ plugins: [reader], config: b.config });
      const worker = await client.startWorker({ threads: 1, concurrency: 4 });
      try {
        const hs = await t.add.map(Array.from({ length: 20 }, (_, i) => [i, 1] as [number, number]));
        await Promise.all(hs.map((h) => h.result({ timeoutSecs: 30 })));
        await waitFor(() => seen.length === 20, { what: '20 jobSucceeded events' });
        expect(await Promise.all(seen)).to.deep.equal(Array(20).fill('SUCCESS'));
      } finally {
        await worker.stop();
        await client.close();
      }
    });
  }

  it('fires no jobSucceeded for a batch whose write fails, and says so', async () => {
    class FailingAcks extends MemoryResultStore {
      fail = true;
      override async putMany(records: JobRecord[]): Promise<void> {
        if (this.fail && records.some((r) => r.status === 'SUCCESS')) { this.fail = false; throw new NuvomError('NUVOM_E_STORAGE', 'disk I/O error (simulated)'); }
        return super.putMany(records);
      }
    }
    const store = new FailingAcks();
    const events: string[] = [];
    const plugin = definePlugin({
      name: 'failing-results', apiVersion: 1, provides: ['resultStore:failing'],
      register(ctx) {
        ctx.provide('resultStore', 'failing', () => store);
        ctx.hooks.jobSucceeded.tap('failing-results', (e) => { events.push(e.jobId); });
      },
    });
    const client = await testClient({ plugins: [plugin], config: { resultBackend: 'failing', visibilityTimeoutSecs: 1 } });
    const worker = await client.startWorker({ threads: 1 });
    try {
      const h = await pf.quick.delay(21);
      // The first write fails; the job comes back when its lease expires and is recorded then.
      expect(await h.result({ timeoutSecs: 30 })).to.equal(42);
      expect(client.logLines.join('\n')).to.include('disk I/O error (simulated)').and.include('jobSucceeded was not fired for them');
      expect(events).to.deep.equal([h.id]);
      expect((await client.getJob(h.id))!.attempts).to.equal(2);
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});

describe('worker pool faults: a cancel racing completion', function () {
  this.timeout(30_000);
  after(() => cleanupTempProjects());

  it('never overwrites SUCCESS with CANCELLED when the job finishes while the cancel is on its way', async () => {
    /** A queue whose cancel() reaches the queue only after the job has been acked (left the queue). */
    class SlowCancel extends MemoryQueue {
      override async cancel(id: string): Promise<CancelOutcome> {
        await waitFor(async () => (await this.get(id)) === null, { what: 'the job to leave the queue' });
        return super.cancel(id);
      }
    }
    const queue = new SlowCancel();
    const plugin = definePlugin({
      name: 'slow-cancel', apiVersion: 1, provides: ['queue:slowcancel'],
      register(ctx) { ctx.provide('queue', 'slowcancel', () => queue); },
    });
    const client = await testClient({ plugins: [plugin], config: { queueBackend: 'slowcancel' } });
    const worker = await client.startWorker({ threads: 1 });
    try {
      const h = await t.slow.delay(300);
      await waitFor(async () => (await client.getJob(h.id))?.status === 'RUNNING', { what: 'the job to run' });
      const err = await client.cancelJob(h.id).then(() => null, (e) => e);
      expect(err, 'the cancel should be refused').to.be.instanceOf(NuvomError);
      expect(err.code).to.equal('NUVOM_E_JOB_STATE');
      expect(err.message).to.include('already SUCCESS');
      const rec = await client.getJob(h.id);
      expect(rec).to.include({ status: 'SUCCESS', result: 300 });
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});

describe('worker pool faults: cancelling a running job', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  for (const b of BACKENDS) {
    it(`reaches the running task's signal without waiting for a lease renewal (${b.name})`, async () => {
      // The default 30 s lease: a renewal comes every 10 s, long after the 5 s job would end.
      const client = await testClient({ config: { ...b.config, visibilityTimeoutSecs: 30 } });
      const worker = await client.startWorker({ threads: 1 });
      const file = path.join(tempProject(), 'effects.log');
      try {
        const h = await pf.fiveSeconds.delay(file);
        await waitFor(() => lines(file).includes('started'), { what: 'the task to start', timeoutMs: 20_000 });
        expect(await client.cancelJob(h.id)).to.equal('signalled');
        const rec = await settledJob(client, h.id);
        expect(rec.status).to.equal('CANCELLED');
        expect(rec.error!.name).to.equal('AbortError');
        expect(lines(file)).to.deep.equal(['started', 'aborted AbortError']);
      } finally {
        await worker.stop();
        await client.close();
      }
    });
  }
});

describe('worker pool faults: an error after a committed claim', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('gives the claimed jobs back without spending an attempt when the RUNNING write fails', async () => {
    class BrokenRunningWrites extends MemoryResultStore {
      failures = 5;
      override async putMany(records: JobRecord[]): Promise<void> {
        if (this.failures > 0 && records.some((r) => r.status === 'RUNNING')) {
          this.failures--;
          throw new NuvomError('NUVOM_E_STORAGE', 'database disk image is malformed (simulated)');
        }
        return super.putMany(records);
      }
    }
    const store = new BrokenRunningWrites();
    const plugin = definePlugin({
      name: 'broken-running', apiVersion: 1, provides: ['resultStore:broken'],
      register(ctx) { ctx.provide('resultStore', 'broken', () => store); },
    });
    // A short lease: a leaked claim would expire, come back with attempts counted, and (five times
    // over, for a task without retries) fail "delivered 5 times" although it never ran.
    const client = await testClient({ plugins: [plugin], config: { resultBackend: 'broken', visibilityTimeoutSecs: 1 } });
    const worker = await client.startWorker({ threads: 1, batchSize: 4 });
    try {
      const hs = await pf.quick.map([[1], [2], [3]]);
      expect(await Promise.all(hs.map((h) => h.result({ timeoutSecs: 40 })))).to.deep.equal([2, 4, 6]);
      for (const h of hs) expect((await client.getJob(h.id))!.attempts, `attempts of ${h.id}`).to.equal(1);
      expect(store.failures).to.equal(0);
      expect(client.logLines.join('\n')).to.include('given back to the queue, no attempt spent');
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});

describe('worker pool faults: threads that cannot start', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('gives the jobs of a thread that never started back unspent, and stops the worker after three such threads', async () => {
    // A 1 MB heap is too little for Node to start a thread: each one dies before it loads its runner.
    const client = await testClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite' } });
    const stopped: string[] = [];
    client.kernel.hooks.threadStopped.tap('test', (e) => { stopped.push(e.reason ?? ''); });
    const [h] = await pf.quick.map([[1]]);
    const worker = await client.startWorker({ threads: 1, concurrency: 2, memoryLimitMb: 1 });
    try {
      // The worker stopped itself: `done` rejects (runworker exits 1), saying why.
      const err = await worker.done.then(() => null, (e: unknown) => e as NuvomError);
      expect(err?.code).to.equal('NUVOM_E_WORKER_CRASHED');
      expect(err?.message).to.include('3 worker threads in a row ended before they started');
      expect(stopped).to.have.length(3);
      const rec = (await client.getJob(h.id))!;
      expect([rec.status, rec.attempts]).to.deep.equal(['PENDING', 0]);
      expect(client.logLines.join('\n')).to.include('3 worker threads in a row ended before they started').and.not.include('died');
    } finally {
      await worker.stop();
    }
    // The job was not lost: a worker whose threads start runs it, as its first attempt.
    const good = await client.startWorker({ threads: 1 });
    try {
      expect(await h.result({ timeoutSecs: 30 })).to.equal(2);
      expect((await client.getJob(h.id))!.attempts).to.equal(1);
    } finally {
      await good.stop();
      await client.close();
    }
  });
});

describe('worker pool faults: onError on a timeout', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('fires onError when a job times out with policy fail, before its thread is ended', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1 });
    const file = path.join(tempProject(), 'hooks.log');
    try {
      const h = await pf.sleepPastTimeout.delay(file);
      const rec = await settledJob(client, h.id);
      expect(rec.status).to.equal('FAILED');
      expect(rec.error!.name).to.equal('TimeoutError');
      expect(lines(file)).to.deep.equal(['error 1 TimeoutError']);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('fires onError for each timed-out attempt with policy retry', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1 });
    const file = path.join(tempProject(), 'hooks.log');
    try {
      const h = await pf.sleepPastTimeoutRetry.delay(file);
      const rec = await settledJob(client, h.id);
      expect(rec).to.include({ status: 'FAILED', attempts: 2 });
      expect(lines(file)).to.deep.equal(['error 1 TimeoutError', 'error 2 TimeoutError']);
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});

describe('worker pool faults: failures visible in the worker log', function () {
  this.timeout(30_000);
  after(() => cleanupTempProjects());

  it('logs one WARN line per failed or retried attempt: task, id, attempt, the first line of the error', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1 });
    try {
      const a = await pf.failsOnce.delay();
      const b = await pf.alwaysFails.delay();
      expect(await a.result({ timeoutSecs: 20 })).to.equal('ok');
      await settledJob(client, b.id);
      const warns = client.logLines.filter((l) => l.startsWith('warn job '));
      expect(warns).to.deep.equal([
        `warn job ${a.id} (task pf.failsOnce) attempt 1 failed, retrying in 50 ms: RangeError: first attempt fails`,
        `warn job ${b.id} (task pf.alwaysFails) attempt 1 failed for good: TypeError: always fails`,
      ]);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('rate-limits the lines under a flood and says how many it left out', () => {
    const { logger, lines: out } = memoryLogger();
    const log = new FailureLog(logger, 10, 10_000);
    const error = { name: 'Error', message: 'down', stack: null };
    for (let i = 0; i < 25; i++) log.attempt({ taskName: 'x', jobId: `j${i}`, attempt: 1, error, next: { retry: false } }, 1_000 + i);
    expect(out).to.have.length(10);
    log.attempt({ taskName: 'x', jobId: 'late', attempt: 1, error, next: { retry: false } }, 12_000);
    expect(out).to.have.length(12);
    expect(out[10]).to.match(/^warn 15 more failed attempt\(s\) not logged in the last 10 s/);
    expect(out[11]).to.include('job late (task x)');
  });
});

describe('worker pool: the status line off a terminal', () => {
  it('is logged only when it changed, or after five quiet minutes', () => {
    const s = { threads: 2, busyThreads: 0, running: 0, done: 5, failed: 1 };
    const log = new StatusLog();
    expect(log.shouldLog(s, 0)).to.equal(true);
    expect(log.shouldLog({ ...s }, 10_000)).to.equal(false);
    expect(log.shouldLog({ ...s }, 290_000)).to.equal(false);
    expect(log.shouldLog({ ...s, done: 6 }, 300_000)).to.equal(true);
    expect(log.shouldLog({ ...s, done: 6 }, 310_000)).to.equal(false);
    expect(log.shouldLog({ ...s, done: 6 }, 600_000)).to.equal(true);
  });
});

describe('worker pool: burst', function () {
  this.timeout(30_000);
  after(() => cleanupTempProjects());

  for (const b of [BACKENDS[0], BACKENDS[2]]) {
    it(`ends when nothing is ready now, leaving a delayed job for later (${b.name})`, async () => {
      const client = await testClient({ config: b.config });
      try {
        const later = await pf.quick.enqueue({ args: [1], delaySecs: 3600 });
        const now = await pf.quick.delay(2);
        const retried = await pf.failsOnce.delay();
        const worker = await client.startWorker({ threads: 1, burst: true });
        const ended = await Promise.race([worker.done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 15_000).unref())]);
        if (!ended) await worker.stop({ force: true });
        expect(ended, 'the burst run should end').to.equal(true);
        expect((await client.getJob(now.id))!.status).to.equal('SUCCESS');
        // Its own retry (50 ms later) is this run's work; the job delayed an hour is not.
        expect((await client.getJob(retried.id))!.status).to.equal('SUCCESS');
        expect((await client.getJob(later.id))!.status).to.equal('PENDING');
      } finally {
        await client.close();
      }
    });
  }
});
