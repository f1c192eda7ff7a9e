/**
 * Runaway tasks: a CPU loop, a promise that never settles (and ignores its abort signal), unbounded
 * allocation under a per-thread heap limit, and process.exit in a task. Each ends as a clear FAILED
 * (or retried, then FAILED) job; the pool replaces the thread and is back to full size; jobs that
 * shared the runaway's thread go back to the queue and succeed.
 */
import { expect } from 'chai';
import type { Client, RunningWorker } from '../../sdk/index.ts';
import {
  cleanupTempProjects, effectsByJob, enqueueMany, killAll, openClient, project, readEffects, runNuvom, waitFor,
} from './helpers.ts';

const TASKS = `
export const spin = task({ name: 'spin', timeoutSecs: 0.5, timeoutPolicy: 'fail' }, () => { effect(); for (;;) { /* runaway */ } });
export const hang = task({ name: 'hang', timeoutSecs: 0.5, timeoutPolicy: 'fail' }, async () => { effect(); await new Promise(() => {}); });
export const hog = task({ name: 'hog', retries: 1, retryDelaySecs: 0 }, () => {
  effect();
  const keep = [];
  for (;;) keep.push(new Array(100_000).fill(Math.random()));
});
export const quit = task({ name: 'quit' }, () => { effect(); process.exit(3); });
export const slow = task({ name: 'slow' }, async (ms) => { effect(); await sleep(ms); return ms; });
`;
const TASK_LIST = [
  { name: 'spin', options: { timeoutSecs: 0.5, timeoutPolicy: 'fail' } },
  { name: 'hang', options: { timeoutSecs: 0.5, timeoutPolicy: 'fail' } },
  { name: 'hog', options: { retries: 1, retryDelaySecs: 0 } },
  { name: 'quit' },
  { name: 'slow' },
];

describe('reliability: runaway tasks', function () {
  this.timeout(60_000);
  const THREADS = 2;
  let dir: string;
  let client: Client;
  let worker: RunningWorker;

  before(async () => {
    dir = project(TASKS, TASK_LIST);
    client = await openClient(dir);
    worker = await client.startWorker({ threads: THREADS, concurrency: 1, memoryLimitMb: 64 } as never);
  });
  after(async () => {
    await client?.close();
    await killAll();
    cleanupTempProjects();
  });

  async function settled(id: string) {
    await waitFor(async () => ['SUCCESS', 'FAILED'].includes((await client.getJob(id))!.status), { timeoutMs: 30_000, what: `job ${id} to finish` });
    return (await client.getJob(id))!;
  }

  async function backToFullSize() {
    await waitFor(() => worker.stats().threads === THREADS, { what: 'the pool to be back to full size' });
    const ok = await client.enqueue('slow', [1]);
    expect(await ok.result({ timeoutSecs: 20 }), 'the pool still runs jobs').to.equal(1);
  }

  it('stops a CPU loop at its timeout by ending its thread: FAILED with a TimeoutError', async () => {
    const { id } = await client.enqueue('spin', []);
    const rec = await settled(id);
    expect(rec).to.include({ status: 'FAILED', attempts: 1 });
    expect(rec.error).to.include({ name: 'TimeoutError' });
    expect(rec.error!.message).to.match(/ran past its timeout of 0\.5s/);
    await backToFullSize();
  });

  it('stops a task whose promise never settles and that ignores its abort signal', async () => {
    const { id } = await client.enqueue('hang', []);
    const rec = await settled(id);
    expect(rec).to.include({ status: 'FAILED', attempts: 1 });
    expect(rec.error).to.include({ name: 'TimeoutError' });
    await backToFullSize();
  });

  it('fails a task that allocates without bound once its thread hits the heap limit, after its retry', async () => {
    const { id } = await client.enqueue('hog', []);
    const rec = await settled(id);
    expect(rec).to.include({ status: 'FAILED', attempts: 2 });
    expect(rec.error!.message).to.match(/memory limit|out of memory/i);
    expect(rec.error!.message).to.include('worker thread running this job died');
    expect(effectsByJob(readEffects(dir)).get(id)!.map((e) => e.attempt)).to.deep.equal([1, 2]);
    // The main process survived: this test runs in it.
    await backToFullSize();
  });

  it('fails a task that calls process.exit, naming the exit code, and replaces only its thread', async () => {
    const { id } = await client.enqueue('quit', []);
    const rec = await settled(id);
    expect(rec).to.include({ status: 'FAILED', attempts: 1 });
    expect(rec.error!.message).to.match(/exit code 3/);
    await backToFullSize();
  });

  it('gives a job that shared the runaway\'s thread back to the queue, where it succeeds', async () => {
    // One thread, two jobs at once: the CPU loop freezes its neighbour too, until the thread is ended.
    await worker.stop();
    const neighbour = (await client.enqueue('slow', [300])).id;
    const runaway = (await client.enqueue('spin', [])).id;
    const solo = await client.startWorker({ threads: 1, concurrency: 2 }); // claims both at once
    try {
      const rec = await settled(runaway);
      expect(rec).to.include({ status: 'FAILED' });
      const nb = await settled(neighbour);
      expect(nb).to.include({ status: 'SUCCESS', result: 300 });
      await waitFor(() => solo.stats().threads === 1, { what: 'the solo pool to be back to full size' });
    } finally {
      await solo.stop();
      worker = await client.startWorker({ threads: THREADS, concurrency: 1, memoryLimitMb: 64 } as never);
    }
  });

  it('enforces `runworker --memory-limit-mb` in a real worker process, which keeps running other jobs', async () => {
    const [hogId] = await enqueueMany(client, 'hog', [[]], { retries: 0 });
    const [slowId] = await enqueueMany(client, 'slow', [[5]]);
    await worker.stop(); // leave the jobs to the child process
    try {
      const r = await runNuvom(dir, ['runworker', '--threads', '1', '--memory-limit-mb', '64', '--burst'], {}, 60_000);
      expect(r.code, r.err).to.equal(0);
      expect(await client.getJob(hogId)).to.include({ status: 'FAILED' });
      expect((await client.getJob(hogId))!.error!.message).to.match(/memory limit|out of memory/i);
      expect(await client.getJob(slowId)).to.include({ status: 'SUCCESS' });
    } finally {
      worker = await client.startWorker({ threads: THREADS, concurrency: 1, memoryLimitMb: 64 } as never);
    }
  });
});
