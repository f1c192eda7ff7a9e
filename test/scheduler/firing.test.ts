/**
 * The scheduler on a controlled clock, over the memory and the SQLite backends: each trigger fires at
 * its times, jobs carry the task's options, intervals do not drift, misfires follow the policy, DST
 * days fire at the expected UTC instants, cancel stops an entry, and a missing task is survived.
 */
import { expect } from 'chai';
import { task } from '../../sdk/index.ts';
import { taskTable } from '../../sdk/plugin.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import { boot, iso, tickThrough, TestClock, type Backend, type Booted } from './helpers.ts';
import { ping, report } from './fixtures/tasks.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

for (const backend of ['memory', 'sqlite'] as Backend[]) {
  describe(`scheduler on ${backend}`, () => {
    let b: Booted;
    const T0 = Date.parse('2026-03-01T00:00:00Z');
    beforeEach(async () => { b = await boot({ backend, clock: new TestClock(T0) }); });
    afterEach(async () => { await b.close(); });
    after(() => cleanupTempProjects());

    describe('triggers', () => {
      it('fires an `at` schedule once, at its time and not before, then marks it DONE', async () => {
        const h = await b.schedule(ping, { at: iso(T0 + 90_000) }, 1);
        expect(await b.scheduler.tick(T0 + 89_999)).to.equal(0);
        expect(await b.scheduler.tick(T0 + 90_000)).to.equal(1);
        expect(await b.scheduler.tick(T0 + 10 * HOUR)).to.equal(0);
        expect(await b.fired(h.id)).to.deep.equal([iso(T0 + 90_000)]);
        expect(await b.scheduler.list()).to.deep.equal([]);
        const [done] = await b.scheduler.list({ includeFinished: true });
        expect(done).to.include({ id: h.id, status: 'DONE', nextRunAt: null });
      });

      it('runs an `at` in the past once, at the next poll', async () => {
        const h = await b.schedule(ping, { at: '2025-12-31T23:00:00Z' });
        expect(h.nextRunAt).to.equal('2025-12-31T23:00:00.000Z');
        expect(await b.scheduler.tick(T0 + 1000)).to.equal(1);
        expect(await b.scheduler.tick(T0 + 2000)).to.equal(0);
        expect(await b.fired(h.id)).to.deep.equal(['2025-12-31T23:00:00.000Z']);
      });

      it('fires an `inSecs` schedule after its delay, and `inSecs: 0` at the next poll', async () => {
        const later = await b.schedule(ping, { inSecs: 30 });
        const now = await b.schedule(ping, { inSecs: 0 });
        expect(await b.scheduler.tick(T0 + 500)).to.equal(1);
        expect(await b.scheduler.tick(T0 + 29_999)).to.equal(0);
        expect(await b.scheduler.tick(T0 + 30_000)).to.equal(1);
        expect(await b.fired(now.id)).to.deep.equal([iso(T0)]);
        expect(await b.fired(later.id)).to.deep.equal([iso(T0 + 30_000)]);
      });

      it('fires an `everySecs` schedule on its own grid however late each poll is (no drift)', async () => {
        const h = await b.schedule(ping, { everySecs: 60 });
        for (const late of [900, 1700, 59_000, 0, 12_345]) {
          const due = (await b.scheduler.list())[0].nextRunAt!;
          expect(await b.scheduler.tick(due + late)).to.equal(1);
        }
        expect(await b.fired(h.id)).to.deep.equal([1, 2, 3, 4, 5].map((k) => iso(T0 + k * MIN)));
        expect((await b.scheduler.list())[0].nextRunAt).to.equal(T0 + 6 * MIN);
      });

      it('fires a cron schedule at each of its times', async () => {
        const h = await b.schedule(ping, { cron: '*/15 * * * *' });
        expect(await tickThrough(b, T0, T0 + HOUR, 5 * MIN)).to.equal(4);
        expect(await b.fired(h.id)).to.deep.equal([15, 30, 45, 60].map((m) => iso(T0 + m * MIN)));
      });

      it("makes jobs that carry the task's options, priority and the scheduled arguments", async () => {
        const h = await b.schedule(report, { everySecs: 3600 }, '2026-03-01', { full: true });
        b.clock.set(T0 + HOUR + 250);
        expect(await b.scheduler.tick()).to.equal(1);
        const jobId = `${h.id}:${iso(T0 + HOUR)}`;
        const rec = await b.kernel.resolve('jobs').getJob(jobId);
        expect(rec).to.include({ taskName: 'sched.report', status: 'PENDING', maxRetries: 3, timeoutSecs: 7, timeoutPolicy: 'fail', priority: 4 });
        expect(rec!.tags).to.deep.equal(['nightly']);
        expect(rec!.args).to.deep.equal(['2026-03-01', { full: true }]);
        expect(rec!.createdAt).to.equal(iso(T0 + HOUR + 250));
        const queued = await b.kernel.resolve('queue').get(jobId);
        expect(queued!.options).to.deep.equal({
          maxRetries: 3, retryDelaySecs: 2, backoff: 'exponential', timeoutSecs: 7, timeoutPolicy: 'fail', storeResult: true, tags: ['nightly'],
        });
        expect(queued!.runAt).to.equal(T0 + HOUR + 250);
      });
    });

    describe('misfires', () => {
      it("after a long outage, 'skip' drops the stale fire times and 'catchup' runs once; both go on from the next time", async () => {
        const skip = await b.schedule(ping, { everySecs: 3600 });
        const catchup = await b.schedule(ping, { everySecs: 3600, misfire: 'catchup' });
        expect(await b.scheduler.tick(T0 + 4.5 * HOUR)).to.equal(1);
        expect(await b.fired(skip.id)).to.deep.equal([]);
        expect(await b.fired(catchup.id)).to.deep.equal([iso(T0 + 4 * HOUR)]);
        for (const e of await b.scheduler.list()) expect(e.nextRunAt).to.equal(T0 + 5 * HOUR);
        expect(b.lines.some((l) => l.includes(skip.id) && l.includes("skipped 4 fire times from 2026-03-01T01:00:00.000Z to 2026-03-01T04:00:00.000Z"))).to.equal(true);
        expect(b.lines.some((l) => l.includes(catchup.id) && l.includes("one job catches up (misfire 'catchup')"))).to.equal(true);
        expect(await b.scheduler.tick(T0 + 5 * HOUR + 300)).to.equal(2);
        expect(await b.fired(skip.id)).to.deep.equal([iso(T0 + 5 * HOUR)]);
      });

      it('after a short outage both policies run the latest fire time once (it is within the grace period)', async () => {
        const skip = await b.schedule(ping, { everySecs: 60 });
        const catchup = await b.schedule(ping, { everySecs: 60, misfire: 'catchup' });
        expect(await b.scheduler.tick(T0 + 5 * MIN + 20_000)).to.equal(2);
        expect(await b.fired(skip.id)).to.deep.equal([iso(T0 + 5 * MIN)]);
        expect(await b.fired(catchup.id)).to.deep.equal([iso(T0 + 5 * MIN)]);
        for (const e of await b.scheduler.list()) expect(e.nextRunAt).to.equal(T0 + 6 * MIN);
      });

      it('says "more than 1000" fire times when a frequent cron missed more than it counts', async () => {
        const skip = await b.schedule(ping, { cron: '* * * * *' });
        const catchup = await b.schedule(ping, { cron: '* * * * *', misfire: 'catchup' });
        expect(await b.scheduler.tick(T0 + 72 * HOUR + 30_000)).to.equal(2); // 4,320 minutes missed
        expect(b.lines.find((l) => l.startsWith('warn') && l.includes(skip.id))).to.contain("skipped more than 999 missed fire time(s) before 2026-03-04T00:00:00.000Z, which runs (misfire 'skip')");
        expect(b.lines.find((l) => l.startsWith('warn') && l.includes(catchup.id))).to.contain('missed more than 1000 fire times from 2026-03-01T00:01:00.000Z to 2026-03-04T00:00:00.000Z; one job catches up');
        expect(await b.fired(catchup.id)).to.deep.equal(['2026-03-04T00:00:00.000Z']);
      });

      it("skips a daily cron found three hours late under 'skip', and runs it once under 'catchup'", async () => {
        const skip = await b.schedule(ping, { cron: '0 9 * * *', timezone: 'Europe/Berlin' });
        const catchup = await b.schedule(ping, { cron: '0 9 * * *', timezone: 'Europe/Berlin', misfire: 'catchup' });
        expect(await b.scheduler.tick(Date.parse('2026-03-01T11:00:00Z'))).to.equal(1); // 12:00 in Berlin
        expect(await b.fired(skip.id)).to.deep.equal([]);
        expect(await b.fired(catchup.id)).to.deep.equal(['2026-03-01T08:00:00.000Z']);
        for (const e of await b.scheduler.list()) expect(iso(e.nextRunAt!)).to.equal('2026-03-02T08:00:00.000Z');
      });
    });

    describe('daylight saving time', () => {
      it("fires '30 2 * * *' in Europe/Berlin once on the spring-forward day, at 03:30 CEST (01:30Z)", async () => {
        b.clock.set('2026-03-27T12:00:00Z');
        const h = await b.schedule(ping, { cron: '30 2 * * *', timezone: 'Europe/Berlin' });
        await tickThrough(b, '2026-03-27T12:00:00Z', '2026-03-31T12:00:00Z', 15 * MIN);
        expect(await b.fired(h.id)).to.deep.equal([
          '2026-03-28T01:30:00.000Z', // 02:30 CET (UTC+1)
          '2026-03-29T01:30:00.000Z', // 02:30 does not exist on 29 March: 03:30 CEST
          '2026-03-30T00:30:00.000Z', // 02:30 CEST (UTC+2)
          '2026-03-31T00:30:00.000Z',
        ]);
      });

      it("fires '30 1 * * *' in America/New_York once on the fall-back day, at the first 01:30 (EDT)", async () => {
        b.clock.set('2026-10-30T12:00:00Z');
        const h = await b.schedule(ping, { cron: '30 1 * * *', timezone: 'America/New_York' });
        await tickThrough(b, '2026-10-30T12:00:00Z', '2026-11-03T12:00:00Z', 15 * MIN);
        expect(await b.fired(h.id)).to.deep.equal([
          '2026-10-31T05:30:00.000Z', // 01:30 EDT (UTC-4)
          '2026-11-01T05:30:00.000Z', // the first 01:30 (EDT); the second (06:30Z, EST) does not fire
          '2026-11-02T06:30:00.000Z', // 01:30 EST (UTC-5)
          '2026-11-03T06:30:00.000Z',
        ]);
      });

      it("fires '0 * * * *' in America/New_York every real hour across fall-back: 01:00 local runs twice", async () => {
        b.clock.set('2026-11-01T03:30:00Z');
        const h = await b.schedule(ping, { cron: '0 * * * *', timezone: 'America/New_York' });
        await tickThrough(b, '2026-11-01T03:30:00Z', '2026-11-01T08:30:00Z', 15 * MIN);
        expect(await b.fired(h.id)).to.deep.equal([
          '2026-11-01T04:00:00.000Z', // 00:00 EDT
          '2026-11-01T05:00:00.000Z', // 01:00 EDT
          '2026-11-01T06:00:00.000Z', // 01:00 EST
          '2026-11-01T07:00:00.000Z', // 02:00 EST
          '2026-11-01T08:00:00.000Z',
        ]);
      });

      it('does not fire the repeated 01:30 when a scheduler comes back inside the repeated hour', async () => {
        b.clock.set('2026-10-31T12:00:00Z');
        const skip = await b.schedule(ping, { cron: '30 1 * * *', timezone: 'America/New_York' });
        const catchup = await b.schedule(ping, { cron: '30 1 * * *', timezone: 'America/New_York', misfire: 'catchup' });
        // Down from before the first 01:30 (05:30Z) until 01:10 EST (06:10Z), then polling again.
        expect(await tickThrough(b, '2026-11-01T06:10:00Z', '2026-11-01T07:00:00Z', 5 * MIN)).to.equal(1);
        expect(await b.fired(skip.id)).to.deep.equal([]);
        expect(await b.fired(catchup.id)).to.deep.equal(['2026-11-01T05:30:00.000Z']);
        for (const e of await b.scheduler.list()) expect(iso(e.nextRunAt!)).to.equal('2026-11-02T06:30:00.000Z');
      });
    });

    describe('cancel and missing tasks', () => {
      it('stops a cancelled schedule from firing and keeps it listed as CANCELLED', async () => {
        const h = await b.schedule(ping, { everySecs: 60 });
        expect(await b.scheduler.tick(T0 + MIN)).to.equal(1);
        expect(await b.scheduler.cancel(h.id)).to.equal(true);
        expect(await b.scheduler.cancel(h.id)).to.equal(false);
        expect(await b.scheduler.cancel('no-such-schedule')).to.equal(false);
        expect(await tickThrough(b, T0 + 2 * MIN, T0 + 10 * MIN, MIN)).to.equal(0);
        expect(await b.fired(h.id)).to.deep.equal([iso(T0 + MIN)]);
        expect(await b.scheduler.list()).to.deep.equal([]);
        expect((await b.scheduler.list({ includeFinished: true }))[0]).to.include({ id: h.id, status: 'CANCELLED' });
      });

      it('survives a schedule whose task is gone: reported once, entry kept, fires again once the task is back', async () => {
        const name = `sched.ghost.${backend}`;
        const ghost = { name, options: {} };
        const recurring = await b.scheduler.schedule(ghost, { everySecs: 60 }, []);
        const once = await b.scheduler.schedule(ghost, { inSecs: 30 }, []);
        const other = await b.schedule(ping, { everySecs: 60 });
        for (let k = 1; k <= 3; k++) expect(await b.scheduler.tick(T0 + k * MIN)).to.equal(1); // only `other`
        expect(await b.fired(other.id)).to.have.length(3);
        const reports = b.lines.filter((l) => l.includes(`task "${name}"`) && l.includes('not in the registry'));
        expect(reports.map((l) => l.split(':')[0])).to.have.members([`warn schedule ${recurring.id} (task "${name}")`, `warn schedule ${once.id} (task "${name}")`]);
        expect((await b.scheduler.list()).map((e) => e.id)).to.have.members([recurring.id, once.id, other.id]);
        const back = task({ name }, async () => 'back');
        try {
          expect(await b.scheduler.tick(T0 + 4 * MIN)).to.equal(3);
          expect(await b.fired(recurring.id)).to.deep.equal([iso(T0 + 4 * MIN)]);
          // The retry time at which the task was found again, not the one-off's own time (documented).
          expect(await b.fired(once.id)).to.deep.equal([iso(T0 + 4 * MIN)]);
          expect(reports.find((l) => l.includes(once.id))).to.contain(`it was due at ${iso(T0 + 30_000)} and is looked at again every 60s`);
          expect(b.lines.some((l) => l.includes(recurring.id) && l.includes('known again'))).to.equal(true);
        } finally {
          taskTable().tasks.delete(back.name);
        }
      });
    });
  });
}
