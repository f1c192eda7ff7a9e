import { expect } from 'chai';
import { HookBus, NuvomError, STAGES, type QueuedJob } from '../../sdk/plugin.ts';
import { memoryLogger, waitFor } from '../helpers/tmp.ts';

const job = { id: 'j1', taskName: 't', args: new Uint8Array(), priority: 0, runAt: 0, attempts: 0, createdAt: 0, options: {} as QueuedJob['options'], meta: {} } as QueuedJob;

describe('hook bus', () => {
  it('runs pipeline taps in stage order, each receiving the previous result', async () => {
    const bus = new HookBus(memoryLogger().logger);
    const order: string[] = [];
    bus.hooks.enqueue.tapPromise({ name: 'late', stage: STAGES.LATE }, async (j) => { order.push('late'); return { ...j, meta: { ...j.meta, late: true } }; });
    bus.hooks.enqueue.tapPromise({ name: 'early', stage: STAGES.EARLY }, async (j) => { order.push('early'); return { ...j, meta: { early: true } }; });
    const out = await bus.hooks.enqueue.promise(job);
    expect(order).to.deep.equal(['early', 'late']);
    expect(out.meta).to.deep.equal({ early: true, late: true });
  });

  it('rethrows a pipeline tap error as a NuvomError naming the plugin and the hook', async () => {
    const bus = new HookBus(memoryLogger().logger);
    bus.hooks.enqueue.tapPromise('audit-plugin', async () => { throw new Error('no jobs on Sundays'); });
    const err = await bus.hooks.enqueue.promise(job).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(NuvomError);
    expect(err.plugin).to.equal('audit-plugin');
    expect(err.hook).to.equal('enqueue');
    expect(err.message).to.contain('audit-plugin').and.contain('enqueue').and.contain('no jobs on Sundays');
  });

  it('isolates a failing observer tap: other taps run and the failure is logged once', async () => {
    const { logger, lines } = memoryLogger();
    const bus = new HookBus(logger);
    const seen: string[] = [];
    bus.hooks.jobSucceeded.tap('bad-monitor', () => { throw new Error('boom'); });
    bus.hooks.jobSucceeded.tapPromise('good-monitor', async (e) => { seen.push(e.jobId); });
    for (const id of ['a', 'b', 'c']) bus.emit('jobSucceeded', { jobId: id, taskName: 't', attempt: 1, at: 0 });
    await waitFor(() => seen.length === 3, { what: 'the good tap' });
    expect(seen).to.deep.equal(['a', 'b', 'c']);
    expect(lines.filter((l) => l.includes('bad-monitor'))).to.have.length(1);
    expect(bus.failures()['bad-monitor/jobSucceeded']).to.equal(3);
  });

  it('lets a plugin publish a hook that others tap, with the same error wrapping', async () => {
    const { AsyncSeriesWaterfallHook } = await import('tapable');
    const bus = new HookBus(memoryLogger().logger);
    const hook = bus.publish('mailer', 'mailer:beforeSend', new AsyncSeriesWaterfallHook<[string]>(['body']), 'pipeline');
    bus.custom<typeof hook>('mailer:beforeSend').tapPromise('signature', async (b) => `${b}\n-- sent by nuvom`);
    expect(await hook.promise('hi')).to.equal('hi\n-- sent by nuvom');
    expect(() => bus.custom('nope')).to.throw(/no plugin published a hook named "nope"/);
    expect(() => bus.publish('other', 'enqueue', new AsyncSeriesWaterfallHook<[string]>(['x']), 'pipeline')).to.throw(/already declared/);
  });

  it('keeps the table frozen', () => {
    const bus = new HookBus(memoryLogger().logger);
    expect(Object.isFrozen(bus.hooks)).to.equal(true);
    expect(() => { (bus.hooks as unknown as Record<string, unknown>).enqueue = null; }).to.throw(TypeError);
  });
});
