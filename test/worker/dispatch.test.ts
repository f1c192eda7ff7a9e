import { expect } from 'chai';
import type { Client } from '../../sdk/index.ts';
import { definePlugin, NuvomError } from '../../sdk/plugin.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

describe('dispatch (no worker running)', () => {
  let client: Client;
  before(async () => {
    client = await testClient({
      plugins: [definePlugin({
        name: 'tagger', apiVersion: 1,
        register(ctx) {
          ctx.hooks.enqueue.tapPromise('tagger', async (job) => {
            if (job.priority < 0) throw new Error('negative priorities are not allowed here');
            return { ...job, meta: { ...job.meta, tagged: true } };
          });
        },
      })],
    });
  });
  after(async () => { await client.close(); cleanupTempProjects(); });

  it('enqueues a PENDING job with the options fixed from the task and the call', async () => {
    const h = await t.flaky.enqueue({ args: [1], priority: 5, timeoutSecs: 9 });
    const rec = await client.getJob(h.id);
    expect(rec).to.include({ status: 'PENDING', attempts: 0, maxRetries: 3, retriesLeft: 3, priority: 5, timeoutSecs: 9, timeoutPolicy: 'retry' });
    expect(rec!.args).to.deep.equal([1]);
    const queued = await client.kernel.resolve('queue').get(h.id);
    expect(queued!.meta).to.deep.equal({ tagged: true });
  });

  it('refuses an unserializable argument, naming it, and enqueues nothing', async () => {
    const queue = client.kernel.resolve('queue');
    const before = await queue.qsize();
    const err = await t.add.delay(1, { cb: () => 1 } as unknown as number).catch((e) => e);
    expect(err).to.be.instanceOf(NuvomError);
    expect(err.code).to.equal('NUVOM_E_UNSERIALIZABLE');
    expect(err.message).to.contain('argument 2 (args[1].cb) is a function');
    const circular: Record<string, unknown> = {}; circular.self = circular;
    const err2 = await t.add.map([[1, 2], [circular as unknown as number, 1]]).catch((e) => e);
    expect(err2.message).to.contain('circular reference');
    expect(await queue.qsize()).to.equal(before);
  });

  it('lets an enqueue hook refuse a job, naming the plugin', async () => {
    const err = await t.add.enqueue({ args: [1, 2], priority: -1 }).catch((e) => e);
    expect(err.message).to.contain('plugin "tagger"').and.contain('negative priorities');
    // docs/errors.md: NUVOM_E_ENQUEUE_REFUSED when an enqueue hook refused the job.
    expect(err).to.include({ code: 'NUVOM_E_ENQUEUE_REFUSED', plugin: 'tagger', hook: 'enqueue' });
    expect(err.message.match(/plugin "tagger"/g), 'named once').to.have.length(1);
  });

  it('map() applies its options to every job of the map, and refuses an id or an unknown option before anything is written', async () => {
    const hs = await t.add.map([[1, 2], [3, 4]], { priority: 3, delaySecs: 60, tags: ['batch'], retries: 1 });
    for (const h of hs) {
      const rec = (await client.getJob(h.id))!;
      expect(rec).to.include({ priority: 3, maxRetries: 1 });
      expect(rec.tags).to.deep.equal(['batch']);
      expect(Date.parse(rec.nextRunAt!) - Date.parse(rec.createdAt)).to.equal(60_000);
    }
    const queue = client.kernel.resolve('queue');
    const before = await queue.qsize();
    const id = await t.add.map([[1, 2]], { id: 'one' } as never).catch((e) => e);
    expect(id).to.include({ code: 'NUVOM_E_TASK_INVALID' });
    expect(id.message).to.contain('"id" names one job').and.contain('enqueue({ args, id })');
    const unknown = await t.add.map([[1, 2]], { colour: 'red' } as never).catch((e) => e);
    expect(unknown.message).to.contain('map(): unknown option "colour"');
    const bad = await t.add.map([[1, 2]], { priority: 1.5 }).catch((e) => e);
    expect(bad.message).to.contain('option "priority" must be a whole number');
    expect(await queue.qsize(), 'nothing enqueued').to.equal(before);
  });

  it('delays a job and reports when it will run', async () => {
    const h = await t.add.enqueue({ args: [1, 2], delaySecs: 3600 });
    const rec = await client.getJob(h.id);
    expect(Date.parse(rec!.nextRunAt!) - Date.parse(rec!.createdAt)).to.equal(3600_000);
  });

  it('cancels a pending job and refuses to cancel it twice', async () => {
    const h = await t.add.delay(1, 2);
    expect(await client.cancelJob(h.id)).to.equal('cancelled');
    expect((await client.getJob(h.id))!.status).to.equal('CANCELLED');
    expect(await client.kernel.resolve('queue').get(h.id)).to.equal(null);
    const err = await client.cancelJob(h.id).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_JOB_STATE');
  });

  it('retries a cancelled job and refuses to retry a pending one', async () => {
    const h = await t.add.delay(3, 4);
    const pending = await client.retryJob(h.id).catch((e) => e);
    expect(pending.message).to.contain('only FAILED or CANCELLED jobs are retried');
    await client.cancelJob(h.id);
    const rec = await client.retryJob(h.id);
    expect(rec.status).to.equal('PENDING');
    expect(await client.kernel.resolve('queue').get(h.id)).to.not.equal(null);
  });

  it('gives up waiting for a result after the asked time', async () => {
    const h = await t.add.delay(1, 1);
    const err = await h.result({ timeoutSecs: 0.05 }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_RESULT_TIMEOUT');
    expect(err.message).to.contain('is a worker running?');
  });

  it('a result() timeout asks for a worker only when the job is due and no one runs it: a job due later names its time, a running one says to wait longer', async () => {
    const later = await t.add.enqueue({ args: [1, 1], delaySecs: 3600 });
    const due = (await client.getJob(later.id))!.nextRunAt!;
    const early = await later.result({ timeoutSecs: 0.05 }).catch((e) => e);
    expect(early.code).to.equal('NUVOM_E_RESULT_TIMEOUT');
    expect(early.message).to.contain(`is still PENDING after 0.05s; it is not due before ${due}: wait past that time`);
    await client.cancelJob(later.id);

    const h = await t.slow.delay(30_000);
    const w = await client.startWorker({ threads: 0 });
    try {
      await waitFor(async () => (await client.getJob(h.id))?.status === 'RUNNING', { what: 'the slow job to start' });
      const err = await h.result({ timeoutSecs: 0.05 }).catch((e) => e);
      expect(err.code).to.equal('NUVOM_E_RESULT_TIMEOUT');
      expect(err.message).to.match(/is still RUNNING after 0\.05s; attempt 1 is running on worker \S+: wait longer \(result\(\{ timeoutSecs \}\)\)$/);
      expect(err.message).to.not.contain('is a worker running?');
      await client.cancelJob(h.id);
    } finally {
      await w.stop({ force: true });
    }
  });

  it('gives up after the asked time even when the result store does not answer (a stalled connection)', async () => {
    const h = await t.add.delay(1, 1);
    const store = client.kernel.resolve('resultStore');
    const getFull = store.getFull.bind(store);
    store.getFull = () => new Promise(() => undefined); // never answers
    try {
      const t0 = Date.now();
      const err = await h.result({ timeoutSecs: 0.2 }).catch((e) => e);
      expect(err.code).to.equal('NUVOM_E_RESULT_TIMEOUT');
      expect(err.message).to.contain('the result store did not answer within 0.2s');
      expect(Date.now() - t0).to.be.below(5_000);
    } finally {
      store.getFull = getFull;
    }
  });

  it('refuses a job id that is not 1-200 of the allowed characters, or dots alone (a URL path would resolve it away)', async () => {
    for (const id of ['.', '..', 'a b', 'x'.repeat(201), '']) {
      const err = await t.add.enqueue({ args: [1, 1], id }).catch((e) => e);
      expect(err.code, id).to.equal('NUVOM_E_TASK_INVALID');
      expect(err.message).to.contain('and not dots alone');
    }
    expect((await t.add.enqueue({ args: [1, 1], id: 'v1.2..3' })).id).to.equal('v1.2..3');
  });

  it('refuses a result() timeout that is not a number of seconds, instead of waiting forever', async () => {
    const h = await t.add.delay(1, 1);
    const err = await h.result({ timeoutSecs: 'x' as unknown as number }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_TASK_INVALID');
    expect(err.message).to.contain('timeoutSecs').and.contain('"x"');
  });

  it('refuses bad per-call options with the option named', async () => {
    const err = await t.add.enqueue({ args: [1, 2], retries: -1 }).catch((e) => e);
    expect(err.message).to.contain('option "retries" must be a whole number from 0 to 2147483647');
    const err2 = await t.add.enqueue({ args: [1, 2], colour: 'red' } as never).catch((e) => e);
    expect(err2.message).to.contain('unknown option "colour"');
  });

  it('refuses a priority or retry count past what a store keeps (32 bits), and delaySecs with runAt, before anything is written', async () => {
    const before = (await client.listJobs()).length;
    const big = await t.add.enqueue({ args: [1, 2], priority: 2 ** 40 }).catch((e) => e);
    expect(big.code).to.equal('NUVOM_E_TASK_INVALID');
    expect(big.message).to.contain('option "priority" must be a whole number from -2147483647 to 2147483647, got 1099511627776');
    expect((await t.add.enqueue({ args: [1, 2], retries: 2 ** 31 }).catch((e) => e)).code).to.equal('NUVOM_E_TASK_INVALID');
    const both = await t.add.enqueue({ args: [1, 2], delaySecs: 5, runAt: new Date(Date.now() + 60_000) }).catch((e) => e);
    expect(both.code).to.equal('NUVOM_E_TASK_INVALID');
    expect(both.message).to.contain('give delaySecs or runAt, not both');
    // A time no record can show (Date's range ends in year 275760) was a bare RangeError: "Invalid time value".
    const far = await t.add.enqueue({ args: [1, 2], delaySecs: 1e15 }).catch((e) => e);
    expect([far.code, far.message]).to.satisfy(([c, m]: string[]) => c === 'NUVOM_E_TASK_INVALID' && m.includes('past year 9999'));
    expect((await t.add.enqueue({ args: [1, 2], runAt: Date.UTC(12000, 0, 1) }).catch((e) => e)).code).to.equal('NUVOM_E_TASK_INVALID');
    expect((await client.listJobs()).length).to.equal(before);
    const h = await t.add.enqueue({ args: [1, 2], priority: 2_147_483_647 });
    expect((await client.getJob(h.id))!.priority).to.equal(2_147_483_647);
  });
});

describe('dispatch: a job an enqueue hook returns malformed is refused before anything is written', function () {
  this.timeout(30_000);
  after(cleanupTempProjects);
  const cases: Array<[string, (job: Record<string, unknown>, ctx: { encode(v: unknown): Uint8Array }) => unknown, RegExp]> = [
    ['a job without its options', (job) => ({ id: job.id }), /with taskName undefined/],
    ['no options', (job) => ({ ...job, options: undefined }), /with options undefined: keep the job's options object/],
    ['options.maxRetries of -1', (job) => ({ ...job, options: { ...(job.options as object), maxRetries: -1 } }), /options\.maxRetries is -1: it must be a whole number/],
    ['a function in meta', (job) => ({ ...job, meta: { fn: () => 1 } }), /whose meta\.fn is a function: meta must be plain JSON data/],
    ['a Date in meta', (job) => ({ ...job, meta: { at: new Date(0) } }), /meta\.at is \[object Date\], not a plain object/],
    ['args as a string', (job) => ({ ...job, args: 'hello' }), /with args "hello": args are the encoded arguments/],
    ['args bytes that do not decode', (job) => ({ ...job, args: new Uint8Array([0x92, 0x01]) }), /args the serializer cannot decode/],
    ['args that decode to no list', (job, ctx) => ({ ...job, args: ctx.encode('hello') }), /decode to "hello", not an argument list/],
    ['a priority of 1.5', (job) => ({ ...job, priority: 1.5 }), /priority 1\.5: it must be a whole number/],
    // PostgreSQL stores run times as bigint: a fraction failed the write there (22P02) and not on SQLite.
    ['a runAt half a millisecond later', (job) => ({ ...job, runAt: (job.runAt as number) + 0.5 }), /with runAt [\d.]+: it must be whole epoch milliseconds/],
    // (undefined is tapable's "no change": the job goes on as it came)
    ['null', () => null, /returned null instead of the job/],
  ];
  for (const backend of ['memory', 'sqlite']) {
    for (const [what, change, message] of cases) {
      it(`${what} (${backend})`, async () => {
        const client = await testClient({
          config: { queueBackend: backend, resultBackend: backend },
          plugins: [definePlugin({
            name: 'acme-mangler', apiVersion: 1,
            register(ctx) {
              const encode = (v: unknown) => ctx.resolve('serializer').encode(v);
              ctx.hooks.enqueue.tapPromise('acme-mangler', async (job) => change(job as unknown as Record<string, unknown>, { encode }) as never);
            },
          })],
        });
        try {
          const err = await t.add.delay(1, 2).catch((e) => e);
          expect(err, 'refused').to.be.instanceOf(NuvomError);
          expect(err).to.include({ code: 'NUVOM_E_ENQUEUE_REFUSED', plugin: 'acme-mangler' });
          expect(err.message).to.match(message).and.to.contain('the enqueue hook of plugin "acme-mangler"').and.to.contain('nothing was enqueued');
          expect(await client.kernel.resolve('queue').qsize(), 'nothing queued').to.equal(0);
          expect(await client.listJobs(), 'no record').to.deep.equal([]);
        } finally {
          await client.close();
        }
      });
    }
  }

  it('a hook may re-encode the arguments: the job runs with them and its record shows them', async () => {
    const client = await testClient({
      plugins: [definePlugin({
        name: 'acme-doubler', apiVersion: 1,
        register(ctx) {
          ctx.hooks.enqueue.tapPromise('acme-doubler', async (job) => {
            const s = ctx.resolve('serializer');
            return { ...job, args: s.encode((s.decode(job.args) as number[]).map((n) => n * 2)) };
          });
        },
      })],
    });
    try {
      const h = await t.add.delay(1, 2);
      expect((await client.getJob(h.id))!.args).to.deep.equal([2, 4]);
      const w = await client.startWorker({ threads: 0 });
      try {
        expect(await h.result({ timeoutSecs: 20 })).to.equal(6);
      } finally {
        await w.stop();
      }
    } finally {
      await client.close();
    }
  });
});

describe('dispatch: jobs enqueued together keep their own options', () => {
  let client: Client;
  before(async () => {
    let seen = 0;
    client = await testClient({
      plugins: [definePlugin({
        name: 'first-longer', apiVersion: 1,
        register(ctx) {
          // Changes the first job it sees in place: the other jobs of the same map() must not change with it.
          ctx.hooks.enqueue.tapPromise('first-longer', async (job) => {
            if (seen++ === 0) job.options.timeoutSecs = 99;
            return job;
          });
        },
      })],
    });
  });
  after(async () => { await client.close(); cleanupTempProjects(); });

  it('an enqueue hook that changes one job of a map() changes only that job', async () => {
    const handles = await t.add.map([[1, 1], [2, 2], [3, 3]]);
    const records = await Promise.all(handles.map((h) => client.getJob(h.id)));
    expect(records.map((r) => r!.timeoutSecs)).to.deep.equal([99, 30, 30]);
    expect(records.map((r) => r!.args)).to.deep.equal([[1, 1], [2, 2], [3, 3]]);
  });
});
