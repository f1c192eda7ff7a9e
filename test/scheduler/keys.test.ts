/**
 * Keyed schedules: schedule() with the same key replaces the one stored schedule (issue 15), list
 * shows the key, cancel takes the key; an unchanged trigger keeps its timeline across a redeploy.
 */
import { expect } from 'chai';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import { boot, TestClock, type Backend } from './helpers.ts';
import { ping } from './fixtures/tasks.ts';

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
      } finally {
        await b.close();
      }
    });
  });
}
