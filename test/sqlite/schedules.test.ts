import { expect } from 'chai';
import { isNuvomError, type ScheduleEntry } from '../../sdk/plugin.ts';
import { SqliteScheduleStore } from '../../builtin-plugins/sqlite/schedules.ts';
import { scheduleEntry, tempDir } from './helpers.ts';

const SECOND = 1000;
const everySecond = (entry: ScheduleEntry) => (entry.nextRunAt as number) + SECOND;

describe('sqlite schedule store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteScheduleStore;
  let t0: number;

  beforeEach(() => {
    tmp = tempDir();
    store = new SqliteScheduleStore({ path: tmp.file() });
    t0 = Date.now();
  });
  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('round-trips an entry through add and get', async () => {
    const entry = scheduleEntry({ kind: 'cron', everySecs: null, cron: '*/5 * * * *', timezone: 'Asia/Tokyo', misfire: 'catchup', lastRunAt: t0 - 1 });
    await store.add(entry);
    const got = await store.get(entry.id);
    expect({ ...got, args: Array.from(got!.args) }).to.deep.equal({ ...entry, args: Array.from(entry.args) });
  });

  it('refuses a second entry with the same id', async () => {
    const entry = scheduleEntry();
    await store.add(entry);
    let caught: unknown;
    try { await store.add({ ...entry }); } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_SCHEDULE_INVALID')).to.equal(true);
  });

  it('moves nextRunAt and lastRunAt in the claim and returns the fire time won', async () => {
    const entry = scheduleEntry({ nextRunAt: t0 - 10 });
    await store.add(entry);
    const fires = await store.claimDue(t0, everySecond);
    expect(fires.map((f) => f.fireAt)).to.deep.equal([t0 - 10]);
    expect(fires[0].entry).to.include({ nextRunAt: t0 - 10 + SECOND, lastRunAt: t0 - 10, status: 'ACTIVE' });
    expect(await store.get(entry.id)).to.include({ nextRunAt: t0 - 10 + SECOND, lastRunAt: t0 - 10 });
  });

  it('gives each fire time to one of two stores on the same file, however their claims interleave', async () => {
    const entries = Array.from({ length: 5 }, (_, n) => scheduleEntry({ nextRunAt: t0 - 3 * SECOND - n }));
    for (const e of entries) await store.add(e);
    const other = new SqliteScheduleStore({ path: tmp.file() });
    try {
      const wins: string[] = [];
      for (let round = 0; round < 20; round++) {
        const [a, b] = await Promise.all([store.claimDue(t0, everySecond, 2), other.claimDue(t0, everySecond, 2)]);
        for (const f of [...a, ...b]) wins.push(`${f.entry.id}@${f.fireAt}`);
      }
      expect(new Set(wins).size).to.equal(wins.length);
      expect(wins).to.have.length(5 * 4); // each entry fires at -3 s, -2 s, -1 s and 0 s (minus n ms)
    } finally {
      await other.close();
    }
  });

  it('leaves an entry due when advance throws, and still returns the others it won', async () => {
    const bad = scheduleEntry({ nextRunAt: t0 - 2 });
    const good = scheduleEntry({ nextRunAt: t0 - 1 });
    await store.add(bad);
    await store.add(good);
    const fires = await store.claimDue(t0, (e) => {
      if (e.id === bad.id) throw new Error('bad cron');
      return everySecond(e);
    });
    expect(fires.map((f) => f.entry.id)).to.deep.equal([good.id]);
    expect(await store.get(bad.id)).to.include({ nextRunAt: t0 - 2, status: 'ACTIVE' });
  });

  it('marks a one-off DONE when advance returns null, and lists it only with includeFinished', async () => {
    const once = scheduleEntry({ kind: 'once', everySecs: null, nextRunAt: t0 - 1 });
    await store.add(once);
    expect(await store.claimDue(t0, () => null)).to.have.length(1);
    expect(await store.get(once.id)).to.include({ status: 'DONE', nextRunAt: null });
    expect(await store.list()).to.deep.equal([]);
    expect((await store.list({ includeFinished: true })).map((e) => e.id)).to.deep.equal([once.id]);
  });

  it('cancels an active entry once and never fires it afterwards', async () => {
    const entry = scheduleEntry({ nextRunAt: t0 - 1 });
    await store.add(entry);
    expect(await store.cancel(entry.id)).to.equal(true);
    expect(await store.cancel(entry.id)).to.equal(false);
    expect(await store.claimDue(t0 + 60 * SECOND, everySecond)).to.deep.equal([]);
  });
});
