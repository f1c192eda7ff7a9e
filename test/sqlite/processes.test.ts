/**
 * Several real processes on one SQLite file: the guarantees the original broke (one job handed to
 * several processes, one schedule fire dispatched twice) and cross-process wake-ups.
 */
import { expect } from 'chai';
import { SqliteQueue } from '../../builtin-plugins/sqlite/queue.ts';
import { SqliteScheduleStore } from '../../builtin-plugins/sqlite/schedules.ts';
import { queuedJob, raceFixtures, scheduleEntry, startFixture, tempDir, withDeadline } from './helpers.ts';

describe('sqlite plugin across processes', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('hands each of 2000 jobs to exactly one of 3 claiming processes', async () => {
    const file = tmp.file();
    const queue = new SqliteQueue({ path: file });
    const now = Date.now();
    const jobs = Array.from({ length: 2000 }, (_, n) => queuedJob({ id: `job-${n}`, runAt: now - 1, priority: n % 3 }));
    await queue.enqueueMany(jobs);
    try {
      const results = (await raceFixtures(['p1', 'p2', 'p3'].map((w) => startFixture('claimer.ts', [file, w, '5'])))) as Array<{ workerId: string; ids: string[] }>;
      const all = results.flatMap((r) => r.ids);
      expect(all).to.have.length(2000);
      expect(new Set(all).size).to.equal(2000);
      expect(new Set(all)).to.deep.equal(new Set(jobs.map((j) => j.id)));
      expect(results.filter((r) => r.ids.length > 0).length, 'more than one process took part').to.be.greaterThan(1);
      expect(await queue.qsize()).to.equal(0);
    } finally {
      await queue.close();
    }
  });

  it('gives each schedule fire time to exactly one of 2 scheduler processes', async () => {
    const file = tmp.file();
    const store = new SqliteScheduleStore({ path: file });
    const base = Date.now();
    const entries = Array.from({ length: 10 }, (_, n) => scheduleEntry({ id: `s${n}`, nextRunAt: base - n }));
    for (const e of entries) await store.add(e);
    const now = base + 30_000;
    // Each entry fires every second from base - n up to now: 31 fire times each.
    const expected = entries.flatMap((e) => Array.from({ length: 31 }, (_, k) => `${e.id}@${(e.nextRunAt as number) + k * 1000}`));
    try {
      const results = (await raceFixtures([0, 1].map(() => startFixture('schedule-claimer.ts', [file, String(now)])))) as Array<{ wins: string[] }>;
      const wins = results.flatMap((r) => r.wins);
      expect(wins).to.have.length(expected.length);
      expect(new Set(wins)).to.deep.equal(new Set(expected));
    } finally {
      await store.close();
    }
  });

  it('wakes a subscriber when another process enqueues', async () => {
    const file = tmp.file();
    const queue = new SqliteQueue({ path: file });
    let woken!: () => void;
    const wake = new Promise<void>((resolve) => { woken = resolve; });
    const unsubscribe = queue.subscribe(() => woken());
    try {
      await raceFixtures([startFixture('enqueuer.ts', [file, 'from-another-process'])]);
      await withDeadline(wake, 5000, 'the subscriber to be woken');
      const [job] = await queue.claim({ max: 1, workerId: 'w1', leaseMs: 30_000 });
      expect(job.id).to.equal('from-another-process');
    } finally {
      unsubscribe();
      await queue.close();
    }
  });
});
