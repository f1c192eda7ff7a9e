/**
 * Contention on one SQLite file: 3 producer processes and 3 worker processes (`nuvom runworker`) at
 * once, jobs with random run times (0-200 ms), priorities and 10% failures with retries. Every job
 * reaches its expected final state, none is lost, and no (job, attempt) runs twice: with a 30 s lease
 * and no crash, a job runs exactly once per attempt it is recorded with.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '../../sdk/index.ts';
import {
  LONG, allRecords, cleanupTempProjects, duplicateAttempts, effectsByJob, exited, killAll, nuvom, openClient, project,
  readEffects, spawnNode, waitFor, type Proc,
} from './helpers.ts';

const TASKS = `
// Fails while its attempt is <= failUntil; records one side effect per attempt.
export const work = task({ name: 'work' }, async (ms, failUntil) => {
  const j = effect();
  await sleep(ms);
  if (j.attempt <= failUntil) throw new Error('planned failure of attempt ' + j.attempt);
  return j.attempt;
});
`;

// Each producer enqueues its share in batches of 50, each batch one enqueue (one transaction).
const PRODUCER = `import { createClient } from 'nuvom';
import { writeFileSync } from 'node:fs';
const [count, seed, out] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
let a = seed >>> 0;
const rnd = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const client = await createClient();
const jobs = client.kernel.resolve('jobs');
const ids = [];
for (let i = 0; i < count; i += 50) {
  const calls = [];
  for (let k = i; k < Math.min(count, i + 50); k++) {
    const r = rnd();
    const failUntil = r < 0.02 ? 99 : r < 0.10 ? 1 : 0; // 2% fail for good, 8% fail once then succeed
    calls.push({ taskName: 'work', taskOptions: {}, call: { args: [Math.floor(rnd() * 201), failUntil], priority: Math.floor(rnd() * 10), retries: 2, retryDelaySecs: 0.05 } });
  }
  ids.push(...(await jobs.enqueue(calls)).map((h) => h.id));
}
writeFileSync(out, ids.join('\\n') + '\\n');
await client.close();
`;

describe('reliability: contention on one SQLite file (3 producers, 3 workers)', function () {
  const total = LONG ? 20_000 : 5_000;
  this.timeout(LONG ? 600_000 : 150_000);
  let client: Client | undefined;
  after(async () => {
    await killAll();
    await client?.close();
    cleanupTempProjects();
  });

  it(`runs ${total} jobs to their final states, none lost, none run twice per attempt`, async () => {
    const dir = project(TASKS, [{ name: 'work' }], { 'producer.mjs': PRODUCER });
    client = await openClient(dir);
    const workers: Proc[] = [1, 2, 3].map(() => nuvom(dir, ['runworker', '--threads', '2', '--concurrency', '8']));
    const share = Math.ceil(total / 3);
    const producers = [0, 1, 2].map((i) => spawnNode(['producer.mjs', String(Math.min(share, total - i * share)), String(1000 + i), `ids-${i}.txt`], { cwd: dir }));

    for (const [i, p] of producers.entries()) {
      const r = await exited(p, LONG ? 300_000 : 90_000, `producer ${i}`);
      expect(r.code, p.err).to.equal(0);
    }
    const produced = [0, 1, 2].flatMap((i) => readFileSync(path.join(dir, `ids-${i}.txt`), 'utf8').split('\n').filter(Boolean));
    expect(produced).to.have.length(total);
    expect(new Set(produced).size).to.equal(total);

    await waitFor(async () => {
      for (const w of workers) if (w.child.exitCode !== null) throw new Error(`a worker exited early:\n${w.err.slice(-2000)}`);
      const s = (await client!.stats()).byStatus;
      return s.SUCCESS + s.FAILED === total;
    }, { timeoutMs: LONG ? 400_000 : 100_000, what: 'every job to reach a final state' });

    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect((await exited(w, 30_000, 'a worker')).code, w.err.slice(-2000)).to.equal(0);

    const records = await allRecords(client);
    expect(records).to.have.length(total);
    const byId = new Map(records.map((r) => [r.id, r]));
    expect(produced.filter((id) => !byId.has(id)), 'jobs without a record').to.deep.equal([]);
    expect(await client.kernel.resolve('queue').qsize(), 'jobs left in the queue').to.equal(0);

    const effects = readEffects(dir);
    expect(duplicateAttempts(effects), '(job, attempt) pairs that ran twice').to.deep.equal([]);
    const byJob = effectsByJob(effects);
    const wrong: string[] = [];
    for (const r of records) {
      const failUntil = (r.args as number[])[1];
      const want = failUntil >= 3 ? { status: 'FAILED', attempts: 3 } : { status: 'SUCCESS', attempts: failUntil + 1 };
      const ran = (byJob.get(r.id) ?? []).map((e) => e.attempt).sort((x, y) => x - y);
      const expected = Array.from({ length: want.attempts }, (_, k) => k + 1);
      if (r.status !== want.status || r.attempts !== want.attempts || ran.join() !== expected.join()) {
        wrong.push(`${r.id}: ${r.status} attempts=${r.attempts} ran=[${ran}] want ${want.status} attempts=${want.attempts}`);
      }
    }
    expect(wrong.slice(0, 10), `${wrong.length} job(s) ended wrong`).to.deep.equal([]);
    expect(effects).to.have.length(records.reduce((n, r) => n + r.attempts, 0));
    // Every worker process took part.
    expect(new Set(effects.map((e) => e.pid))).to.have.property('size', 3);
  });
});
