/**
 * Keyed schedules: schedule() with the same key replaces the one stored schedule (issue 15), list
 * shows the key, cancel takes the key; an unchanged trigger keeps its timeline across a redeploy.
 */
import { expect } from 'chai';
import { isNuvomError } from '../../sdk/plugin.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import { boot, TestClock, type Backend } from './helpers.ts';
import { ping, report } from './fixtures/tasks.ts';

const T0 = Date.parse('2026-05-01T00:00:00Z');

for (const backend of ['memory', 'sqlite'] as Backend[]) {
  describe(`scheduler: keyed schedules (${backend})`, function () {
    this.timeout(30_000);
    after(() => cleanupTempProjects());

    it('replaces the trigger and arguments of the one schedule with that key', async () => {
      const b = await boot({ backend, clock: new TestClock(T0) });
      try {
        const first = await b.schedule(ping, { cron: '0 * * * *', key: 'hourly-add' }, 1);
        const again = await b.schedule(ping, { everySecs: 600, key: 'hourly-add' }, 2);
        expect(first).to.deep.include({ id: 'key:hourly-add', key: 'hourly-add' });
        expect(again.id).to.equal(first.id);
        const listed = await b.scheduler.list();
        expect(listed.map((e) => [e.id, e.key, e.kind, e.everySecs])).to.deep.equal([['key:hourly-add', 'hourly-add', 'interval', 600]]);
        expect(b.kernel.resolve('serializer').decode(listed[0].args)).to.deep.equal([2]);
      } finally {
        await b.close();
      }
    });

    it('keeps the next fire time when the same trigger is scheduled again (a redeploy)', async () => {
      const clock = new TestClock(T0);
      const b = await boot({ backend, clock });
      try {
        const first = await b.schedule(ping, { everySecs: 3600, key: 'boot' }, 1);
        clock.advance(20 * 60_000);
        const again = await b.schedule(ping, { everySecs: 3600, key: 'boot' }, 1);
        expect(again.nextRunAt).to.equal(first.nextRunAt);
      } finally {
        await b.close();
      }
    });

    it("refuses a key held by another task's active schedule, naming it, and keeps that schedule", async () => {
      const b = await boot({ backend, clock: new TestClock(T0) });
      try {
        const first = await b.schedule(report, { everySecs: 3600, key: 'nightly' }, '2026-05-01', { full: true });
        const err = await b.schedule(ping, { everySecs: 3600, key: 'nightly' }, 9).catch((e) => e);
        expect(isNuvomError(err, 'NUVOM_E_SCHEDULE_INVALID'), String(err)).to.equal(true);
        expect(err.message).to.equal('task "sched.ping".schedule(): key "nightly" is held by an active schedule of task "sched.report" (key:nightly); cancel that one first (`nuvom schedule cancel nightly`) or use another key; nothing was scheduled');
        const [kept] = await b.scheduler.list();
        expect(kept).to.include({ id: 'key:nightly', taskName: 'sched.report', nextRunAt: Date.parse(first.nextRunAt!) });
        expect(b.kernel.resolve('serializer').decode(kept.args)).to.deep.equal(['2026-05-01', { full: true }]);
        // Once cancelled, the key is free for another task, which starts afresh.
        expect(await b.scheduler.cancel('nightly')).to.equal(true);
        await b.schedule(ping, { everySecs: 3600, key: 'nightly' }, 9);
        expect((await b.scheduler.list()).map((e) => [e.id, e.taskName, e.status])).to.deep.equal([['key:nightly', 'sched.ping', 'ACTIVE']]);
      } finally {
        await b.close();
      }
    });

    it("gives another task a key whose one-off already fired, starting afresh (not DONE as the other task's was)", async () => {
      const clock = new TestClock(T0);
      const b = await boot({ backend, clock });
      try {
        await b.schedule(report, { at: T0 + 60_000, key: 'once' }, 'd', { full: false });
        expect(await b.scheduler.tick(T0 + 60_000)).to.equal(1);
        const again = await b.schedule(ping, { at: T0 + 60_000, key: 'once' }, 1);
        expect(again.nextRunAt).to.equal(new Date(T0 + 60_000).toISOString());
        expect((await b.scheduler.list()).map((e) => [e.taskName, e.status])).to.deep.equal([['sched.ping', 'ACTIVE']]);
      } finally {
        await b.close();
      }
    });

    it('cancels by key, and refuses a key that is not a plain name', async () => {
      const b = await boot({ backend, clock: new TestClock(T0) });
      try {
        await b.schedule(ping, { everySecs: 60, key: 'nightly' });
        expect(await b.scheduler.cancel('nightly')).to.equal(true);
        expect(await b.scheduler.list()).to.deep.equal([]);
        let err: unknown;
        try { await b.schedule(ping, { everySecs: 60, key: 'bad key\n' }); } catch (e) { err = e; }
        expect(err).to.have.property('code', 'NUVOM_E_SCHEDULE_INVALID');
        expect(String(err)).to.match(/key must be 1-100 letters/);
        const prefixed = await b.schedule(ping, { everySecs: 60, key: 'key:nightly' }).catch((e) => e);
        expect(isNuvomError(prefixed, 'NUVOM_E_SCHEDULE_INVALID'), String(prefixed)).to.equal(true);
        expect(prefixed.message).to.contain('key "key:nightly" starts with "key:"');
        expect(await b.scheduler.list()).to.deep.equal([]);
      } finally {
        await b.close();
      }
    });
  });
}
