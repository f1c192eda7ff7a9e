/**
 * A scheduler process killed with SIGKILL between claiming fire times and enqueueing their jobs
 * (NUVOM_TEST_SCHEDULER_KILL), then a restarted scheduler: every fire time becomes exactly one job.
 * The original lost every claimed fire time (the claim moved the schedules on, the jobs never came).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { cleanupTempProjects, REPO_ROOT, tempProject } from '../helpers/tmp.ts';
import { boot, iso, TestClock, type Booted } from '../scheduler/helpers.ts';
import { ping } from '../scheduler/fixtures/tasks.ts';

const T0 = Date.parse('2026-05-01T00:00:00Z');
const MIN = 60_000;
/** Past the default 30 s hold: the restarted scheduler may take the dead one's fires. */
const AFTER_HOLD = 31_000;

/** A racer process (test/scheduler/fixtures/racer.ts) that ticks once at `at`; resolves with how it ended. */
function tickInChild(cwd: string, at: number, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/scheduler/fixtures/racer.ts'), cwd], {
    cwd: REPO_ROOT, env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const lines = createInterface({ input: child.stdout });
  const replies: string[] = [];
  lines.on('line', (line) => {
    replies.push(line);
    if (line === 'ready') child.stdin.end(`tick ${at}\nquit\n`);
  });
  return new Promise<{ signal: NodeJS.Signals | null; code: number | null; replies: string[]; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ signal, code, replies, stderr }));
  });
}

/** 50 one-offs due at T0 + n s and 20 every-minute intervals; returns their ids. */
async function seed(b: Booted): Promise<{ once: string[]; every: string[] }> {
  const once: string[] = [];
  const every: string[] = [];
  for (let n = 1; n <= 50; n++) once.push((await b.schedule(ping, { at: T0 + n * 1000 }, n)).id);
  for (let n = 0; n < 20; n++) every.push((await b.schedule(ping, { everySecs: 60 }, n)).id);
  return { once, every };
}

async function jobIds(b: Booted): Promise<string[]> {
  return (await b.kernel.resolve('jobs').listJobs({ limit: 10_000 })).map((r) => r.id);
}

describe('reliability: a scheduler killed between claim and enqueue', function () {
  this.timeout(120_000);
  after(() => cleanupTempProjects());

  for (const point of ['after-claim', 'after-enqueue'] as const) {
    it(`enqueues every claimed fire time exactly once after a SIGKILL ${point === 'after-claim' ? 'right after the claim' : 'after the first enqueue of a batch'} and a restart`, async () => {
      const cwd = tempProject();
      const parent = await boot({ backend: 'sqlite', clock: new TestClock(T0), cwd });
      try {
        const s = await seed(parent);
        const at = T0 + MIN + 500; // every one-off and the first interval fire time are due
        const killed = await tickInChild(cwd, at, { NUVOM_TEST_SCHEDULER_KILL: point });
        expect(killed.signal, `the scheduler was not killed: ${killed.stderr}`).to.equal('SIGKILL');
        const before = await jobIds(parent);
        expect(before.length, 'the kill came too late to test anything').to.be.below(70);
        // A restarted scheduler, once the dead one's holds ran out, then the next minute.
        const again = await tickInChild(cwd, at + AFTER_HOLD);
        expect(again.code, again.stderr).to.equal(0);
        const next = await tickInChild(cwd, T0 + 2 * MIN + 500);
        expect(next.code, next.stderr).to.equal(0);
        const ids = await jobIds(parent);
        expect(new Set(ids).size, 'a fire time became two jobs').to.equal(ids.length);
        for (const [n, id] of s.once.entries()) expect(ids.filter((j) => j.startsWith(`${id}:`)), id).to.deep.equal([`${id}:${iso(T0 + (n + 1) * 1000)}`]);
        for (const id of s.every) {
          expect(ids.filter((j) => j.startsWith(`${id}:`)).sort(), id).to.deep.equal([`${id}:${iso(T0 + MIN)}`, `${id}:${iso(T0 + 2 * MIN)}`]);
        }
      } finally {
        await parent.close();
      }
    });
  }
});
