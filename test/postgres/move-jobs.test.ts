/**
 * docs/scaling.md's "Moving pending jobs" script, run as the page shows it, in a scratch project
 * whose SQLite store holds more waiting jobs than one page of listJobs(): every waiting job (PENDING,
 * RETRYING, and RUNNING left by a dead SQLite worker) reaches PostgreSQL under its own id with its run
 * time, priority, tags and its own options (per-call overrides too), and a second run, after
 * PostgreSQL workers finished some of them, moves nothing and queues no finished job again.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cleanupTempProjects, REPO_ROOT, tempProject } from '../helpers/tmp.ts';
import { client as pgClient, dropSchema, PG_URL, requirePostgres, schemaName } from './helpers.ts';

const run = promisify(execFile);

/** The body of the fenced block whose info string is `js file=<name>` in docs/scaling.md. */
function pageScript(name: string): string {
  const text = readFileSync(path.join(REPO_ROOT, 'docs/scaling.md'), 'utf8');
  const m = new RegExp('```js file=' + name.replace('.', '\\.') + '\\n([\\s\\S]*?)\\n```').exec(text);
  if (!m) throw new Error(`docs/scaling.md has no \`\`\`js file=${name} block`);
  return m[1] + '\n';
}

const TASKS = `import { task } from 'nuvom';
export const later = task({ name: 'later', retries: 3, retryDelaySecs: 7 }, async (n) => n);
export const flaky = task({ name: 'flaky', retries: 2, retryDelaySecs: 3600 }, async () => { throw new Error('not yet'); });
`;

// 520 jobs an hour away (more than one page of the script), one with a priority and tags, and one
// RETRYING (its first attempt failed, the retry is an hour away).
const SEED = `import { createClient } from 'nuvom';
import { later, flaky } from './tasks.mjs';
const c = await createClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite' } });
const at = Date.now() + 3600_000;
for (let i = 0; i < 520; i++) await later.enqueue({ args: [i], runAt: at + i });
await later.enqueue({ args: [-1], runAt: at, priority: 5, tags: ['vip'], id: 'the-vip' });
await later.enqueue({ args: [-2], id: 'own-options', runAt: at, retryDelaySecs: 99, backoff: 'exponential', storeResult: false });
const f = await flaky.delay();
const w = await c.startWorker({ threads: 1, concurrency: 1 });
for (let i = 0; i < 600 && (await c.getJob(f.id))?.status !== 'RETRYING'; i++) await new Promise((r) => setTimeout(r, 50));
await w.stop();
// A worker that died mid-job: the job's record RUNNING, its lease held by a worker that is gone.
await later.enqueue({ args: [42], id: 'orphan' });
const held = await c.kernel.resolve('jobStore').claim({ max: 5, workerId: 'dead-worker', leaseMs: 1000 });
console.log(JSON.stringify({ retrying: f.id, status: (await c.getJob(f.id))?.status, orphan: held.map((j) => j.id).join(','), orphanStatus: (await c.getJob('orphan'))?.status }));
await c.close();
`;

// Runs the moved jobs that are due (the orphan) with a PostgreSQL worker, then stops.
const FINISH = `import { createClient } from 'nuvom';
import './tasks.mjs';
const c = await createClient({ config: { queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres' } });
const w = await c.startWorker({ threads: 0 });
for (let i = 0; i < 600 && (await c.getJob('orphan'))?.status !== 'SUCCESS'; i++) await new Promise((r) => setTimeout(r, 50));
await w.stop();
console.log((await c.getJob('orphan'))?.status);
await c.close();
`;

describe("postgres: docs/scaling.md's script moves the waiting jobs from SQLite", function () {
  this.timeout(120_000);
  requirePostgres();
  const schema = schemaName();
  after(async () => {
    await dropSchema(schema).catch(() => undefined);
    cleanupTempProjects();
  });

  it('moves every waiting job with its id, run time, priority, tags and options, and a second run after PostgreSQL ran some moves none', async () => {
    const dir = tempProject({ 'tasks.mjs': TASKS, 'seed.mjs': SEED, 'finish.mjs': FINISH, 'move-jobs.mjs': pageScript('move-jobs.mjs') }, { linkNuvom: true });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NUVOM_')) env[k] = v;
    const seeded = JSON.parse((await run(process.execPath, ['seed.mjs'], { cwd: dir, env })).stdout.trim().split('\n').pop()!) as { retrying: string; status: string; orphan: string; orphanStatus: string };
    expect(seeded.status, 'the seed made a RETRYING job').to.equal('RETRYING');
    expect(seeded, 'the seed left a job RUNNING under a dead worker').to.include({ orphan: 'orphan', orphanStatus: 'RUNNING' });

    const pgEnv = { ...env, NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: schema };
    const first = await run(process.execPath, ['move-jobs.mjs'], { cwd: dir, env: pgEnv });
    expect(first.stdout.trim()).to.equal('moved 524 job(s); 0 already in PostgreSQL');

    const db = await pgClient();
    try {
      const { rows } = await db.query<{ id: string; task_name: string; run_at: number; priority: number; tags: string; options: string; status: string }>(
        `SELECT id, task_name, run_at, priority, tags, options, status FROM "${schema}".jobs WHERE q_state = 'waiting'`);
      expect(rows).to.have.length(524);
      const own = rows.find((r) => r.id === 'own-options')!;
      expect(JSON.parse(own.options), 'per-call options kept').to.include({ maxRetries: 3, retryDelaySecs: 99, backoff: 'exponential', storeResult: false });
      expect(rows.find((r) => r.id === 'orphan'), 'the dead worker\'s job was moved').to.include({ status: 'PENDING' });
      const vip = rows.find((r) => r.id === 'the-vip')!;
      expect(vip).to.include({ task_name: 'later', priority: 5, status: 'PENDING' });
      expect(JSON.parse(vip.tags)).to.deep.equal(['vip']);
      expect(JSON.parse(vip.options)).to.include({ maxRetries: 3, retryDelaySecs: 7 });
      expect(Number(vip.run_at) - Date.now(), 'still an hour away').to.be.above(3000_000);
      const retried = rows.find((r) => r.id === seeded.retrying)!;
      expect(retried, 'the RETRYING job was moved').to.not.equal(undefined);
      expect(JSON.parse(retried.options)).to.include({ maxRetries: 2, retryDelaySecs: 3600 });
      expect(Number(retried.run_at) - Date.now(), 'at its retry time').to.be.above(3000_000);
    } finally {
      await db.end();
    }

    const finished = await run(process.execPath, ['finish.mjs'], { cwd: dir, env: pgEnv });
    expect(finished.stdout.trim(), 'a PostgreSQL worker ran the orphan').to.equal('SUCCESS');
    const again = await run(process.execPath, ['move-jobs.mjs'], { cwd: dir, env: pgEnv });
    expect(again.stdout.trim()).to.equal('moved 0 job(s); 524 already in PostgreSQL');
    const db2 = await pgClient();
    try {
      const { rows } = await db2.query<{ status: string; q_state: string | null }>(`SELECT status, q_state FROM "${schema}".jobs WHERE id = 'orphan'`);
      expect(rows[0], 'finished in PostgreSQL, not queued again').to.deep.equal({ status: 'SUCCESS', q_state: null });
    } finally {
      await db2.end();
    }
  });
});
