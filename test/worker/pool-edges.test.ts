import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeJobOptions, makeQueuedJob } from '../../sdk/testing/index.ts';
import { recordOf } from '../../sdk/plugin.ts';
import { settledJob as settled, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, tempProject, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';
import * as pf from '../fixtures/pool-fault-tasks.ts';

describe('worker pool: edges', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('fails only the job whose result the serializer refuses; the jobs finished with it are stored', async () => {
    const client = await testClient({ config: { serializationBackend: 'json' } });
    const worker = await client.startWorker({ threads: 1, concurrency: 4 });
    try {
      const [nan] = await t.nanResult.map([[]]);
      const adds = await t.add.map([[1, 1], [2, 2], [3, 3]]);
      const rec = await settled(client, nan.id);
      expect(rec.status).to.equal('FAILED');
      expect(rec.error!.message).to.match(/result cannot be stored/);
      for (const h of adds) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS', attempts: 1 });
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('fails only the job whose result is past 64 MiB, saying why; the jobs finished with it are stored', async () => {
    const client = await testClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    const worker = await client.startWorker({ threads: 1, concurrency: 4 });
    try {
      const [big] = await t.bigResult.map([[65]]);
      const adds = await t.add.map([[1, 1], [2, 2]]);
      const rec = await settled(client, big.id);
      expect(rec).to.include({ status: 'FAILED', attempts: 1 });
      expect(rec.error!.message).to.match(/result cannot be stored: the result takes 65\.0 MiB encoded, over the 64\.0 MiB/);
      for (const h of adds) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS', attempts: 1 });
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('refuses arguments past 64 MiB at enqueue with NUVOM_E_UNSERIALIZABLE, enqueuing nothing', async () => {
    const client = await testClient();
    try {
      const err = await t.add.enqueue({ args: ['x'.repeat(65 * 1024 * 1024) as unknown as number, 1] }).catch((e) => e);
      expect(err.code).to.equal('NUVOM_E_UNSERIALIZABLE');
      expect(err.message).to.match(/the arguments take 65\.0 MiB encoded, over the 64\.0 MiB a job's arguments may take; store big data elsewhere.*nothing was enqueued/);
      expect(await client.listJobs()).to.have.length(0);
    } finally {
      await client.close();
    }
  });

  it('refuses a lone surrogate in the arguments (msgpack would store U+FFFD), keeps an emoji, and fails the job whose result has one', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1, concurrency: 2 });
    try {
      const err = await t.cut.delay('a\ud83d', 1).catch((e) => e);
      expect(err.code).to.equal('NUVOM_E_UNSERIALIZABLE');
      expect(err.message).to.contain('argument 1 (args[0]) is a string with a lone surrogate (\\ud83d at index 1');
      const keyErr = await t.cut.delay({ ['k\udc00']: 1 } as unknown as string, 1).catch((e) => e);
      expect(keyErr.code).to.equal('NUVOM_E_UNSERIALIZABLE');
      expect(keyErr.message).to.contain('is a key with a lone surrogate (\\udc00 at index 1');
      expect(await client.listJobs()).to.have.length(0);
      const whole = await t.cut.delay('ok \ud83d\ude00', 5);
      const half = await t.cut.delay('ok \ud83d\ude00', 4);
      expect(await settled(client, whole.id)).to.deep.include({ status: 'SUCCESS', result: 'ok \ud83d\ude00' });
      const rec = await settled(client, half.id);
      expect(rec).to.include({ status: 'FAILED', attempts: 1 });
      expect(rec.error!.message).to.match(/result cannot be stored: .*lone surrogate \(\\ud83d at index 3/);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('a claim that comes back after its leases ran out renews them first, and no job starts twice (the worker\'s next claim would take them back)', async () => {
    const client = await testClient({ config: { visibilityTimeoutSecs: 1 } });
    const store = client.kernel.resolve('jobStore');
    const claim = store.claim.bind(store);
    const renew = store.queue.renew.bind(store.queue);
    let held = true;
    let renewals = Promise.resolve();
    store.claim = async (o) => {
      const jobs = await claim(o);
      if (held && jobs.length) {
        // The claim committed, its answer held up past the lease (a stalled connection); the
        // renewals on the same connection come after it, and a new job makes the worker claim again.
        held = false;
        await new Promise((r) => setTimeout(r, o.leaseMs + 300));
        renewals = new Promise((r) => setTimeout(r, 600));
        await t.slow.delay(10);
      }
      return jobs;
    };
    store.queue.renew = async (...a: Parameters<typeof renew>) => { await renewals; return renew(...a); };
    const starts = new Map<string, number>();
    client.kernel.hooks.jobStarted.tap('test', (e) => { starts.set(e.jobId, (starts.get(e.jobId) ?? 0) + 1); });
    const hs = await t.slow.map([[800], [800], [800]]);
    const worker = await client.startWorker({ threads: 1, concurrency: 4 });
    try {
      for (const h of hs) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS' });
      expect(held, 'the claim went through the hook').to.equal(false);
      expect(hs.map((h) => starts.get(h.id))).to.deep.equal([1, 1, 1]);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('does not start a buffered job whose lease ran out while it waited (another worker may run it): it goes back, and runs once', async () => {
    const client = await testClient({ config: { visibilityTimeoutSecs: 1 } });
    const store = client.kernel.resolve('jobStore');
    const [first, second, waiting] = await t.slow.map([[1500], [1500], [10]]);
    // The renewals that would keep the waiting job's lease are held up (a stalled connection); the
    // running jobs' own checks before their outcome go through.
    const renew = store.queue.renew.bind(store.queue);
    let stalled = true;
    store.queue.renew = async (...a: Parameters<typeof renew>) => {
      while (stalled && a[0].includes(waiting.id)) await new Promise((r) => setTimeout(r, 20));
      return renew(...a);
    };
    // So are the claims after the first (they would take the expired jobs back, with a fresh lease).
    const claim = store.claim.bind(store);
    let claims = 0;
    store.claim = async (o) => {
      while (stalled && claims > 0) await new Promise((r) => setTimeout(r, 20));
      claims++;
      return claim(o);
    };
    const starts: string[] = [];
    client.kernel.hooks.jobStarted.tap('test', (e) => { starts.push(e.jobId); });
    // Two threads: a job waiting for a slot stays in the pool's buffer (one thread alone would get it in its backlog).
    const worker = await client.startWorker({ threads: 2, concurrency: 1 });
    try {
      await settled(client, first.id);
      await settled(client, second.id);
      await waitFor(() => client.logLines.some((l) => l.includes('ran out before they started here') && l.includes(waiting.id)), { what: 'the expired job to be set aside' });
      expect(starts).to.not.include(waiting.id);
      stalled = false;
      // Given back to the queue, it is claimed again and runs, once.
      expect(await settled(client, waiting.id)).to.include({ status: 'SUCCESS' });
      expect(starts.filter((id) => id === waiting.id)).to.have.length(1);
    } finally {
      stalled = false;
      await worker.stop();
      await client.close();
    }
  });

  it('a CPU runaway that freezes a thread shared with other jobs fails alone: its neighbours, timed out with it, run again and succeed', async () => {
    const client = await testClient();
    const hs = await t.spinIf.map([[true, 0], [false, 20], [false, 20], [false, 20]]);
    const worker = await client.startWorker({ threads: 1, concurrency: 4 });
    try {
      const [runaway, ...neighbours] = await Promise.all(hs.map((h) => settled(client, h.id)));
      expect(runaway).to.include({ status: 'FAILED' });
      expect(runaway.error!.name).to.equal('TimeoutError');
      for (const r of neighbours) expect(r).to.deep.include({ status: 'SUCCESS', result: 20 });
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('stopped while a claim is on its way, gives that claim\'s jobs back to the queue at once, their attempt not spent', async () => {
    const client = await testClient();
    const store = client.kernel.resolve('jobStore');
    const claim = store.claim.bind(store);
    let stopCalled!: () => void;
    const stopping = new Promise<void>((r) => { stopCalled = r; });
    let firstClaim: Promise<unknown> | null = null;
    let claimStarted!: () => void;
    const started = new Promise<void>((r) => { claimStarted = r; });
    // The first claim commits late: after stop() was called and a 50 ms round trip (a slow server).
    store.claim = (opts) => {
      if (firstClaim) return claim(opts);
      const p = (async () => {
        claimStarted();
        await stopping;
        await new Promise((r) => setTimeout(r, 50));
        return claim(opts);
      })();
      firstClaim = p;
      return p;
    };
    const handles = await t.add.map([[1, 1], [2, 2], [3, 3]]);
    const worker = await client.startWorker({ threads: 1 });
    try {
      await started;
      const stopped = worker.stop();
      stopCalled();
      await stopped;
      await firstClaim;
      expect(await client.kernel.resolve('queue').counts()).to.include({ ready: 3, leased: 0 });
      for (const h of handles) expect(await client.getJob(h.id)).to.include({ status: 'PENDING', attempts: 0 });
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('at shutdown, when the store refuses to take back the jobs claimed ahead, says so in one line, not one a job', async () => {
    const client = await testClient();
    // Queued before the worker starts, so its first claim holds some ahead (an idle worker holds
    // none until it has a pace).
    const busy = await t.slow.delay(1500);
    await t.slow.map(Array.from({ length: 12 }, () => [10]));
    const worker = await client.startWorker({ threads: 1, concurrency: 1, drainMs: 100 });
    await waitFor(async () => (await client.getJob(busy.id))?.status === 'RUNNING', { what: 'the busy job to start' });
    const store = client.kernel.resolve('jobStore');
    const down = () => Promise.reject(new Error('store down'));
    const settle = store.settle.bind(store);
    store.settle = (w, outcomes) => (outcomes.some((o) => o.action === 'release') ? down() : settle(w, outcomes));
    const put = store.results.put.bind(store.results);
    store.results.put = (r) => (r.status === 'PENDING' ? down() : put(r));
    store.queue.release = () => down();
    await worker.stop();
    const oneLine = client.logLines.filter((l) => /could not return \d+ job\(s\) claimed ahead to the queue \(/.test(l));
    expect(oneLine.length, client.logLines.join('\n')).to.equal(1);
    expect(oneLine[0]).to.contain('store down');
    // Not a line a job: only the running job's own give-back (a started attempt) has a line of its own.
    expect(client.logLines.filter((l) => /could not return job /.test(l)).length).to.be.at.most(1);
    await client.close();
  });

  it('a forced stop (a second signal) does not wait for a claim that hangs', async () => {
    const client = await testClient();
    const store = client.kernel.resolve('jobStore');
    let release!: () => void;
    const hung = new Promise<void>((r) => { release = r; });
    let claimStarted!: () => void;
    const started = new Promise<void>((r) => { claimStarted = r; });
    // The store never answers the first claim (a server that hangs) until the test lets it go.
    store.claim = async () => { claimStarted(); await hung; return []; };
    const worker = await client.startWorker({ threads: 1, drainMs: 600_000 });
    try {
      await started;
      const graceful = worker.stop();
      await worker.stop({ force: true });
      await graceful;
    } finally {
      release();
      await client.close();
    }
  });

  it('fails a job delivered more often than its attempts and the crash allowance, saying why, and keeps its arguments for a retry', async () => {
    const client = await testClient();
    const serializer = client.kernel.resolve('serializer');
    // Delivered 4 times before; this (6th) delivery is past the cap and the last chance (the 5th).
    const job = makeQueuedJob({ taskName: 'wt.add', args: serializer.encode([1, 2]), attempts: 5, options: makeJobOptions({ maxRetries: 0 }) });
    await client.kernel.resolve('queue').enqueue(job);
    const worker = await client.startWorker({ threads: 1 });
    try {
      const rec = await settled(client, job.id);
      expect(rec).to.include({ status: 'FAILED', attempts: 6 });
      expect(rec.error!.message).to.match(/delivered 6 times.*never finished.*the last one ran alone in its worker/);
      expect(await client.kernel.resolve('queue').qsize()).to.equal(0);
      // The message says to fix the task and retry the job: the retry runs it with its own arguments.
      expect(rec.args).to.deep.equal([1, 2]);
      await client.retryJob(job.id);
      expect(await client.result(job.id, { timeoutSecs: 30 })).to.equal(3);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('gives a job first delivered past the cap one last run alone; the jobs claimed with it go back unspent and run after it', async () => {
    const client = await testClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    const serializer = client.kernel.resolve('serializer');
    const queue = client.kernel.resolve('queue');
    // Claimed ahead of four crashes, say: four deliveries that never started. This is the fifth.
    const job = makeQueuedJob({ taskName: 'wt.add', args: serializer.encode([20, 22]), attempts: 4, priority: 5, options: makeJobOptions({ maxRetries: 0 }) });
    await queue.enqueue(job);
    const others = await t.add.map([[1, 1], [2, 2], [3, 3]]);
    const order: string[] = [];
    client.kernel.hooks.jobStarted.tap('test', (e) => { order.push(e.jobId); });
    const worker = await client.startWorker({ threads: 1, concurrency: 4 });
    try {
      expect(await settled(client, job.id)).to.include({ status: 'SUCCESS', attempts: 5, result: 42 });
      for (const h of others) expect(await settled(client, h.id)).to.include({ status: 'SUCCESS', attempts: 1 });
      expect(order[0], 'the last chance started first, alone').to.equal(job.id);
      expect(client.logLines.join('\n')).to.match(/was delivered 5 times .*runs once more alone in this worker/);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('a last chance cancelled while it waits for the running jobs ends the wait: the worker claims again', async () => {
    const client = await testClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    const serializer = client.kernel.resolve('serializer');
    const worker = await client.startWorker({ threads: 1, concurrency: 2 });
    try {
      const slow = await t.slow.delay(1500);
      await waitFor(async () => (await client.getJob(slow.id))?.status === 'RUNNING', { what: 'the slow job to start' });
      const job = makeQueuedJob({ taskName: 'wt.add', args: serializer.encode([1, 2]), attempts: 4, options: makeJobOptions({ maxRetries: 0 }) });
      await client.kernel.resolve('jobStore').enqueue([job], [recordOf(job, [1, 2], { status: 'PENDING', attempts: 4 })]);
      await waitFor(() => client.logLines.some((l) => l.includes(`job ${job.id}`) && l.includes('runs once more alone')), { what: 'the last chance to be held' });
      await client.cancelJob(job.id);
      expect((await settled(client, job.id)).status).to.equal('CANCELLED');
      expect(await settled(client, slow.id)).to.include({ status: 'SUCCESS' });
      const after = await t.add.delay(2, 3);
      expect(await after.result({ timeoutSecs: 30 })).to.equal(5);
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  for (const backend of ['memory', 'sqlite']) {
    it(`an attempt a shutdown interrupts is listed from when it started, not from its claim (a job claimed ahead that started later; ${backend})`, async () => {
      const client = await testClient({ config: { queueBackend: backend, resultBackend: backend } });
      const worker = await client.startWorker({ threads: 1, concurrency: 1 });
      const dir = tempProject();
      const [a, b] = [path.join(dir, 'a.log'), path.join(dir, 'b.log')];
      try {
        // One claim takes both; b waits in the thread's backlog until a ends.
        const [, hb] = await pf.untilGo.map([[a, false], [b, false]]);
        await waitFor(() => existsSync(a), { what: 'the first job to start' });
        const aEnds = Date.now();
        writeFileSync(`${a}.go`, '');
        await waitFor(() => existsSync(b), { what: 'the second job to start' });
        await worker.stop({ force: true });
        const rec = (await client.getJob(hb.id))!;
        const history = rec.history ?? [];
        expect(rec.status).to.equal('PENDING');
        expect(history.map((h) => h.outcome)).to.deep.equal(['INTERRUPTED']);
        expect(Date.parse(history[0].startedAt!), 'the interrupted attempt\'s start (it began once the first job ended)').to.be.at.least(aEnds);
        expect(history[0].threadId, 'the thread it ran in').to.be.a('number');
      } finally {
        await worker.stop();
        await client.close();
      }
    });
  }

  it('gives back the innocent jobs of a thread that one job ended with process.exit; they succeed', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1, concurrency: 2 });
    try {
      const slow = await t.slow.delay(1500);
      await waitFor(async () => (await client.getJob(slow.id))?.status === 'RUNNING', { what: 'the slow job to start' });
      const exit = await t.exitProcess.delay();
      expect(await settled(client, slow.id)).to.include({ status: 'SUCCESS', result: 1500 });
      const rec = await settled(client, exit.id);
      expect(rec.status).to.equal('FAILED');
      expect(rec.error!.message).to.match(/worker thread running this job died \(exit code 3\)/);
      await waitFor(() => worker.stats().threads === 1, { what: 'the pool back to one thread' });
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  it('keeps the message and name of a thrown plain object', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1 });
    try {
      const h = await t.throwsObject.delay();
      const rec = await settled(client, h.id);
      expect(rec.error).to.include({ name: 'Error' });
      expect(rec.error!.message).to.equal('the task threw a non-Error value: a plain object was thrown');
    } finally {
      await worker.stop();
      await client.close();
    }
  });

  for (const backend of ['sqlite', 'file']) {
    it(`fires beforeJob, afterJob and onError on the ${backend} backend too`, async () => {
      const dir = tempProject();
      const client = await testClient({ cwd: dir, config: { queueBackend: backend, resultBackend: backend } });
      const worker = await client.startWorker({ threads: 1 });
      try {
        const file = path.join(dir, 'hooks.log');
        await (await t.hooked.delay(file, false)).result({ timeoutSecs: 20 });
        await (await t.hooked.delay(file, true)).result({ timeoutSecs: 20 }).catch(() => undefined);
        expect(readFileSync(file, 'utf8').trim().split('\n')).to.deep.equal(['before 1', 'after ok', 'before 1', 'error hooked failure']);
      } finally {
        await worker.stop();
        await client.close();
      }
    });
  }
});
