/**
 * A task that ends its worker process (process.exit in-process, as `--threads 0` runs it; an
 * out-of-memory or native crash does the same with threads) under a supervisor that restarts the
 * worker: the jobs claimed ahead with it are counted at each crash, since a claim counts every job it
 * takes. Past the delivery cap a job first gets one run alone in its worker, so the culprit fails by
 * itself and the jobs claimed with it still run: none is failed without ever having started.
 */
import { expect } from 'chai';
import type { Client } from '../../sdk/index.ts';
import { allRecords, cleanupTempProjects, effectsByJob, enqueueMany, killAll, openClient, project, readEffects, runNuvom, waitFor } from './helpers.ts';
import { dropSchema, PG_URL, schemaName, skipWithoutPostgres } from '../postgres/helpers.ts';

const TASKS = `
export const poison = task({ name: 'poison', priority: 10 }, () => { process.exit(3); });
export const work = task({ name: 'work' }, async (n) => { effect(); await sleep(20); return n; });
`;
const TASK_LIST = [{ name: 'poison', options: { priority: 10 } }, { name: 'work' }];

describe('reliability: a task that ends its worker process, under a supervisor that restarts it', function () {
  this.timeout(120_000);
  const clients: Client[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(cleanupTempProjects);

  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`fails the culprit after its run alone; every job claimed with it runs and succeeds (${backend})`, async function () {
      let schema: string | null = null;
      const env: Record<string, string> = { NUVOM_VISIBILITY_TIMEOUT_SECS: '1' };
      if (backend === 'postgres') {
        await skipWithoutPostgres(this);
        schema = schemaName();
        Object.assign(env, { NUVOM_QUEUE_BACKEND: 'postgres', NUVOM_RESULT_BACKEND: 'postgres', NUVOM_SCHEDULER_BACKEND: 'postgres', NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: schema });
      }
      try {
        await crashLoop(env);
      } finally {
        if (schema) await dropSchema(schema);
      }
    });
  }

  async function crashLoop(env: Record<string, string>): Promise<void> {
    const dir = project(TASKS, TASK_LIST);
    const c = await openClient(dir, env);
    clients.push(c);
    const [poisonId] = await enqueueMany(c, 'poison', [[]]);
    const workIds = await enqueueMany(c, 'work', Array.from({ length: 12 }, (_, i) => [i]));
    // The supervisor: a burst worker (in-process, 4 at a time) started again whenever it ends, until
    // every job is final. A run that finds only leased jobs (the dead worker's) ends at once.
    let crashes = 0;
    await waitFor(async () => {
      const r = await runNuvom(dir, ['runworker', '--threads', '0', '--concurrency', '4', '--burst'], env, 60_000);
      if (r.code === 3) crashes++;
      const recs = await allRecords(c);
      return recs.length === 13 && recs.every((x) => x.status === 'SUCCESS' || x.status === 'FAILED');
    }, { timeoutMs: 100_000, what: 'every job to end' });
    const recs = new Map((await allRecords(c)).map((r) => [r.id, r]));
    const poison = recs.get(poisonId)!;
    expect(poison.status).to.equal('FAILED');
    expect(poison.error!.message).to.match(/delivered \d+ times.*the last one ran alone in its worker/);
    const ran = effectsByJob(readEffects(dir));
    for (const id of workIds) {
      const r = recs.get(id)!;
      expect(r.status, `work job ${id} (${r.error?.message ?? ''})`).to.equal('SUCCESS');
      expect(ran.get(id)?.length, `runs of work job ${id}`).to.be.greaterThan(0);
    }
    expect(crashes, 'worker processes the culprit ended').to.be.greaterThan(4);
  }
});
