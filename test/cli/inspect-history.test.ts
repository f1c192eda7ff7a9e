/**
 * The attempt history through the CLI: `nuvom inspect job` shows every attempt (a job that failed
 * twice then succeeded shows both errors), `--format json` includes it, and `nuvom retry job` on a
 * FAILED job with a worker running gives the new run's record (issue 14 item 10), on the SQLite and
 * file backends (the memory ones do not outlive a CLI process; test/history covers them in-process).
 */
import { expect } from 'chai';
import path from 'node:path';
import { createClient, type JobRecord } from '../../sdk/index.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { cleanupTempProjects, json, killAll, nuvom, project, start, waitFor, type Project } from './helpers.ts';

const TASKS = `import fs from 'node:fs';
import { task, currentJob } from 'nuvom';
export const flaky = task({ name: 'flaky', retries: 3, retryDelaySecs: 0.01 }, async () => {
  const { attempt } = currentJob();
  if (attempt < 3) throw new RangeError('attempt ' + attempt + ' fails');
  return attempt;
});
export const hangsFirst = task({ name: 'hangsFirst', retries: 0 }, async () => {
  if (currentJob().attempt === 1) await new Promise(() => {}); // until its worker is SIGKILLed
  return 'second delivery';
});
export const once = task({ name: 'once' }, async (marker) => {
  if (!fs.existsSync(marker)) { fs.writeFileSync(marker, 'ran'); throw new TypeError('first run fails'); }
  return 'second run';
});
`;

const ms = (s: string | null) => Date.parse(s!);

for (const backend of ['sqlite', 'file'] as const) {
  describe(`cli: attempt history (${backend} backends)`, function () {
    this.timeout(90_000);
    let p: Project;
    const env = { NUVOM_QUEUE_BACKEND: backend, NUVOM_RESULT_BACKEND: backend };
    const run = (args: string[]) => nuvom(p, args, env);
    const record = (id: string) => json<JobRecord>({ ...p, env: { ...p.env, ...env } }, ['inspect', 'job', id, '--format', 'json']);

    before(async () => {
      p = project({ 'history-tasks.mjs': TASKS });
      expect((await run(['discover', 'tasks'])).code).to.equal(0);
    });
    after(() => { killAll(); cleanupTempProjects(); });

    it('inspect shows every attempt of a job that failed twice then succeeded, with both errors; --format json has the history', async () => {
      const id = (await run(['enqueue', 'flaky'])).stdout.trim();
      const w = await run(['runworker', '--burst', '--threads', '1']);
      expect(w.code, w.stderr).to.equal(0);
      const r = await run(['inspect', 'job', id]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^status +SUCCESS$/m);
      const table = r.stdout.slice(r.stdout.indexOf('\nattempts\n'));
      expect(table).to.match(/^ *# +started +took +outcome +worker +error$/m);
      expect(table).to.match(/^ *1 +\d{4}-\S+Z +\S+ +RETRIED +\S+ +RangeError: attempt 1 fails$/m);
      expect(table).to.match(/^ *2 +\d{4}-\S+Z +\S+ +RETRIED +\S+ +RangeError: attempt 2 fails$/m);
      expect(table).to.match(/^ *3 +\d{4}-\S+Z +\S+ +SUCCESS +\S+ +-$/m);
      const rec = await record(id);
      // --json, as on the other commands, is --format json.
      expect(await json<JobRecord>({ ...p, env: { ...p.env, ...env } }, ['inspect', 'job', id, '--json'])).to.deep.equal(rec);
      expect((await run(['inspect', 'job', id, '--json', '--format', 'raw'])).code, 'two formats asked').to.equal(2);
      expect(rec.history!.map((a) => [a.attempt, a.outcome, a.error?.message ?? null])).to.deep.equal([
        [1, 'RETRIED', 'attempt 1 fails'], [2, 'RETRIED', 'attempt 2 fails'], [3, 'SUCCESS', null],
      ]);
    });

    it('retry job on a FAILED job, a worker running: the record is the new run\'s, the history keeps the old attempt', async () => {
      const marker = path.join(p.dir, `marker-${backend}`);
      const id = (await run(['enqueue', 'once', JSON.stringify(marker)])).stdout.trim();
      expect((await run(['runworker', '--burst', '--threads', '1'])).code).to.equal(0);
      const failed = await record(id);
      expect(failed).to.include({ status: 'FAILED', attempts: 1 });
      const worker = start(p, ['runworker', '--threads', '1'], env);
      const retriedAt = Date.now();
      const r = await run(['retry', 'job', id]);
      expect(r.code, r.stderr).to.equal(0);
      const rec = await waitFor(async () => {
        const got = await record(id);
        return got.status === 'SUCCESS' ? got : null;
      }, { timeoutMs: 60_000, what: 'the retried job to succeed' });
      worker.child.kill('SIGTERM');
      await worker.done;
      expect(rec).to.include({ status: 'SUCCESS', attempts: 1, result: 'second run', error: null, nextRunAt: null });
      expect(ms(rec.createdAt)).to.be.at.least(retriedAt);
      expect(ms(rec.startedAt)).to.be.at.least(ms(rec.createdAt));
      expect(ms(rec.completedAt)).to.be.at.least(ms(rec.startedAt));
      expect(rec.history!.map((a) => [a.attempt, a.outcome, a.error?.message ?? null])).to.deep.equal([[1, 'FAILED', 'first run fails'], [1, 'SUCCESS', null]]);
      expect(rec.history![0]).to.include({ startedAt: failed.startedAt, endedAt: failed.completedAt });
    });

    it('an attempt whose worker was SIGKILLed is LOST in the history, with that worker, and the redelivery succeeds', async () => {
      const lease = { ...env, NUVOM_VISIBILITY_TIMEOUT_SECS: '1' };
      const id = (await run(['enqueue', 'hangsFirst'])).stdout.trim();
      const client = await createClient({ cwd: p.dir, env: { ...p.env, ...env }, logger: memoryLogger().logger });
      try {
        const a = start(p, ['runworker', '--threads', '1'], lease);
        const running = await waitFor(async () => {
          const r = await client.getJob(id);
          return r?.status === 'RUNNING' ? r : null;
        }, { timeoutMs: 30_000, what: 'the first attempt to run' });
        a.child.kill('SIGKILL');
        await a.done;
        const b = start(p, ['runworker', '--threads', '1'], lease);
        const rec = await waitFor(async () => {
          const r = await client.getJob(id);
          return r?.status === 'SUCCESS' ? r : null;
        }, { timeoutMs: 60_000, what: 'the redelivered job to succeed' });
        b.child.kill('SIGTERM');
        await b.done;
        expect(rec).to.include({ attempts: 2, result: 'second delivery' });
        expect(rec.history!.map((x) => [x.attempt, x.outcome, x.workerId])).to.deep.equal([
          [1, 'LOST', running.workerId], [2, 'SUCCESS', rec.workerId],
        ]);
        expect(rec.workerId).to.not.equal(running.workerId);
        expect(ms(rec.history![0].endedAt)).to.be.at.least(ms(rec.history![0].startedAt)).and.at.most(ms(rec.history![1].startedAt));
      } finally {
        await client.close();
      }
    });
  });
}
