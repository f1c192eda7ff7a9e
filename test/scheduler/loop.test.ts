/** The scheduler loop (run/stop) and the client's schedule API. Waits poll with a deadline; nothing sleeps. */
import { expect } from 'chai';
import { isNuvomError, type ScheduleStore } from '../../sdk/plugin.ts';
import { Scheduler } from '../../builtin-plugins/scheduler/index.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects, memoryLogger, waitFor } from '../helpers/tmp.ts';
import { boot, TestClock, type Booted } from './helpers.ts';
import { ping } from './fixtures/tasks.ts';

const realClock = { now: () => Date.now() } as TestClock;

describe('scheduler: the loop', () => {
  let b: Booted;
  beforeEach(async () => { b = await boot({ backend: 'memory', clock: realClock }); });
  afterEach(async () => { await b.close(); });
  after(() => cleanupTempProjects());

  it('turns due schedules into jobs every poll until stopped', async () => {
    const loop = b.scheduler.run({ pollSecs: 0.02 });
    const h = await b.schedule(ping, { inSecs: 0 }, 7);
    const [jobId] = await waitFor(async () => { const f = await b.fired(h.id); return f.length ? f.map((t) => `${h.id}:${t}`) : null; }, { what: 'the scheduled job' });
    expect((await b.kernel.resolve('jobs').getJob(jobId))!.args).to.deep.equal([7]);
    await loop.stop();
    await loop.done;
    expect(b.lines.filter((l) => l.includes('scheduler stopped'))).to.have.length(1);
  });

  it('refuses a poll interval that is not a positive number', () => {
    for (const pollSecs of [0, -1, Number.NaN]) {
      let caught: unknown;
      try { b.scheduler.run({ pollSecs }); } catch (err) { caught = err; }
      expect(isNuvomError(caught, 'NUVOM_E_USAGE'), String(caught)).to.equal(true);
    }
  });

  it("waits at most Node's longest timer between passes (a longer poll busy-looped)", async () => {
    let passes = 0;
    const store = { async claimDue() { passes += 1; return []; } } as unknown as ScheduleStore;
    const s = new Scheduler({
      config: b.kernel.config, clock: realClock, logger: memoryLogger().logger, serializer: b.kernel.resolve('serializer'), scheduleStore: store,
      jobs: b.kernel.resolve('jobs'), registry: b.kernel.resolve('registry'),
    });
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => { delays.push(ms ?? 0); return real(fn, ms); }) as typeof setTimeout;
    let loop: { stop(): Promise<void> } | undefined;
    try {
      loop = s.run({ pollSecs: 1e7 });
      await waitFor(() => delays.some((ms) => ms >= 2 ** 31 - 1), { what: 'the loop to wait for its next pass' });
    } finally {
      globalThis.setTimeout = real;
      await loop?.stop();
    }
    expect(delays.filter((ms) => ms >= 2 ** 31 - 1)).to.deep.equal([2 ** 31 - 1]);
    expect(passes).to.equal(1);
  });

  it('is stopped by kernel shutdown', async () => {
    const loop = b.scheduler.run({ pollSecs: 60 });
    await b.close();
    await loop.done;
    expect(b.lines.some((l) => l.includes('scheduler stopped'))).to.equal(true);
  });

  it('keeps polling after a failing pass and reports a repeated failure once', async () => {
    let calls = 0;
    const store = {
      async claimDue() {
        calls += 1;
        if (calls <= 3) throw new Error('database is locked');
        return [];
      },
    } as unknown as ScheduleStore;
    const { logger, lines } = memoryLogger();
    const s = new Scheduler({
      config: b.kernel.config, clock: realClock, logger, serializer: b.kernel.resolve('serializer'), scheduleStore: store,
      jobs: b.kernel.resolve('jobs'), registry: b.kernel.resolve('registry'),
    });
    const loop = s.run({ pollSecs: 0.01 });
    await waitFor(() => calls >= 5, { what: 'the loop to go on after failures' });
    await loop.stop();
    expect(lines.filter((l) => l.includes('database is locked'))).to.deep.equal([
      'error scheduler pass failed (will try again in 0.01s): database is locked',
    ]);
  });
});

describe('scheduler: through the client', () => {
  after(() => cleanupTempProjects());

  it('schedules with task.schedule(), lists and cancels through the client', async () => {
    const client = await testClient();
    try {
      const h = await ping.schedule({ everySecs: 300 }, 1);
      expect(h.id).to.be.a('string');
      expect(Date.parse(h.nextRunAt!)).to.be.greaterThan(Date.now());
      expect((await client.listSchedules()).map((e) => [e.id, e.taskName, e.kind, e.everySecs])).to.deep.equal([[h.id, 'sched.ping', 'interval', 300]]);
      expect(await client.cancelSchedule(h.id)).to.equal(true);
      expect(await client.listSchedules()).to.deep.equal([]);
      expect((await client.listSchedules({ includeFinished: true }))[0].status).to.equal('CANCELLED');
      const err = await ping.schedule({ cron: '0 25 * * *' }).catch((e) => e);
      expect(isNuvomError(err, 'NUVOM_E_SCHEDULE_INVALID')).to.equal(true);
      expect(err.message).to.contain('Constraint error, got value 25 expected range 0-23');
    } finally {
      await client.close();
    }
  });
});
