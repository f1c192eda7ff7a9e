/**
 * Several schedulers on one SQLite file, ticking at the same instants: every fire time becomes
 * exactly one job (the original dispatched a schedule once per scheduler).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { cleanupTempProjects, REPO_ROOT, tempProject } from '../helpers/tmp.ts';
import { boot, iso, TestClock, type Booted } from './helpers.ts';
import { ping } from './fixtures/tasks.ts';

const T0 = Date.parse('2026-05-01T00:00:00Z');
const MIN = 60_000;

/** 300 interval entries, 20 cron entries (every minute) and 100 one-offs, all made at T0. */
async function seed(b: Booted): Promise<{ recurring: string[]; once: string[] }> {
  const recurring: string[] = [];
  const once: string[] = [];
  for (let n = 0; n < 300; n++) recurring.push((await b.schedule(ping, { everySecs: 60 }, n)).id);
  for (let n = 0; n < 20; n++) recurring.push((await b.schedule(ping, { cron: '* * * * *' }, n)).id);
  for (let n = 1; n <= 100; n++) once.push((await b.schedule(ping, { at: T0 + n * 3000 }, n)).id);
  return { recurring, once };
}

/** Checks that the jobs are exactly one per fire time: minutes 1..rounds for recurring entries, one per one-off. */
async function expectOnePerFireTime(b: Booted, s: { recurring: string[]; once: string[] }, rounds: number): Promise<number> {
  const jobs = await b.kernel.resolve('jobs').listJobs({ limit: 100_000 });
  const ids = jobs.map((j) => j.id);
  expect(new Set(ids).size, 'a fire time became two jobs').to.equal(ids.length);
  const byEntry = new Map<string, string[]>();
  for (const id of ids) {
    const cut = id.indexOf(':');
    byEntry.set(id.slice(0, cut), [...(byEntry.get(id.slice(0, cut)) ?? []), id.slice(cut + 1)]);
  }
  const minutes = Array.from({ length: rounds }, (_, k) => iso(T0 + (k + 1) * MIN));
  for (const id of s.recurring) expect((byEntry.get(id) ?? []).sort(), id).to.deep.equal(minutes);
  for (const [n, id] of s.once.entries()) expect(byEntry.get(id), id).to.deep.equal([iso(T0 + (n + 1) * 3000)]);
  return ids.length;
}

describe('scheduler: several schedulers on one SQLite file', function () {
  this.timeout(120_000);
  after(() => cleanupTempProjects());

  it('dispatches each fire time once when two kernels in one process tick at the same instants', async () => {
    const cwd = tempProject();
    const a = await boot({ backend: 'sqlite', clock: new TestClock(T0), cwd });
    const b = await boot({ backend: 'sqlite', clock: new TestClock(T0), cwd });
    try {
      const s = await seed(a);
      let made = 0;
      for (let k = 1; k <= 5; k++) {
        const now = T0 + k * MIN + 500;
        a.clock.set(now); b.clock.set(now);
        const counts = await Promise.all([a.scheduler.tick(now), b.scheduler.tick(now)]);
        made += counts[0] + counts[1];
      }
      const expected = 320 * 5 + 100;
      expect(made).to.equal(expected);
      expect(await expectOnePerFireTime(b, s, 5)).to.equal(expected);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('dispatches each fire time once when two scheduler processes race', async () => {
    const cwd = tempProject();
    const parent = await boot({ backend: 'sqlite', clock: new TestClock(T0), cwd });
    const children: Array<{ child: ChildProcessWithoutNullStreams; lines: AsyncIterator<string>; stderr: () => string }> = [];
    try {
      const s = await seed(parent);
      for (let i = 0; i < 2; i++) {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/scheduler/fixtures/racer.ts'), cwd], { cwd: REPO_ROOT });
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c; });
        children.push({ child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), stderr: () => err });
      }
      const next = async (c: (typeof children)[number]): Promise<string> => {
        const r = await c.lines.next();
        if (r.done) throw new Error(`a scheduler process ended early: ${c.stderr()}`);
        return r.value;
      };
      for (const c of children) expect(await next(c)).to.equal('ready');
      const made = [0, 0];
      const rounds = 6;
      for (let k = 1; k <= rounds; k++) {
        // Both get the same instant; who hears first alternates.
        const order = k % 2 ? [0, 1] : [1, 0];
        for (const i of order) children[i].child.stdin.write(`tick ${T0 + k * MIN + 500}\n`);
        const replies = await Promise.all(children.map(next));
        replies.forEach((line, i) => { made[i] += (JSON.parse(line) as { made: number }).made; });
      }
      for (const c of children) c.child.stdin.end('quit\n');
      await Promise.all(children.map((c) => new Promise((resolve) => c.child.once('close', resolve))));
      const expected = 320 * rounds + 100;
      expect(made[0] + made[1]).to.equal(expected);
      expect(made.every((m) => m > 0), `both processes should have won fire times: ${made.join(' / ')}`).to.equal(true);
      expect(await expectOnePerFireTime(parent, s, rounds)).to.equal(expected);
    } finally {
      for (const c of children) if (c.child.exitCode === null) c.child.kill();
      await parent.close();
    }
  });
});
