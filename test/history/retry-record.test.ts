/**
 * The record of a job after `client.retryJob` on a FAILED job, with a worker running, on every
 * backend (issue 14 item 10): status, attempts and timestamps are the new run's; the history keeps
 * the old run's attempt, error included. And a job that failed twice then succeeded keeps both errors.
 */
import { expect } from 'chai';
import path from 'node:path';
import type { Client } from '../../sdk/index.ts';
import { settledJob, testClient } from '../helpers/client.ts';
import { cleanupTempProjects, tempProject, waitFor } from '../helpers/tmp.ts';
import * as h from '../fixtures/history-tasks.ts';

const BACKENDS = ['memory', 'file', 'sqlite'] as const;
const ms = (s: string | null) => Date.parse(s!);

describe('the record after a retry, and the attempt history', () => {
  after(() => cleanupTempProjects());

  for (const backend of BACKENDS) {
    describe(`${backend} backends`, () => {
      let client: Client;
      let stop: () => Promise<void>;
      beforeEach(async () => {
        client = await testClient({ config: { queueBackend: backend, resultBackend: backend, schedulerBackend: backend === 'file' ? 'memory' : backend } });
        const worker = await client.startWorker({ threads: 1, concurrency: 2 });
        stop = () => worker.stop();
      });
      afterEach(async () => { await stop(); await client.close(); });

      it('client.retryJob on a FAILED job gives the new run\'s status, attempts and times, and keeps the old attempt in the history', async () => {
        const marker = path.join(tempProject(), 'marker');
        const job = await h.failsFirstRun.delay(marker);
        const failed = await settledJob(client, job.id);
        expect(failed).to.include({ status: 'FAILED', attempts: 1 });
        const retriedAt = Date.now();
        await client.retryJob(job.id);
        const rec = await waitFor(async () => {
          const r = await client.getJob(job.id);
          return r?.status === 'SUCCESS' ? r : null;
        }, { timeoutMs: 30_000, what: 'the retried job to succeed' });
        expect(rec).to.include({ status: 'SUCCESS', attempts: 1, retriesLeft: 0, result: 'second run', error: null, nextRunAt: null });
        expect(ms(rec.createdAt)).to.be.at.least(retriedAt);
        expect(ms(rec.startedAt)).to.be.at.least(ms(rec.createdAt));
        expect(ms(rec.completedAt)).to.be.at.least(ms(rec.startedAt));
        expect(rec.history!.map((a) => [a.attempt, a.outcome, a.error?.message ?? null])).to.deep.equal([
          [1, 'FAILED', `first run fails (${marker})`],
          [1, 'SUCCESS', null],
        ]);
        const [old, now] = rec.history!;
        expect(old).to.include({ startedAt: failed.startedAt, endedAt: failed.completedAt });
        expect(old.error!.name).to.equal('TypeError');
        expect(now).to.include({ startedAt: rec.startedAt, endedAt: rec.completedAt, workerId: rec.workerId });
        expect(now.threadId).to.be.a('number');
      });

      it('a job that failed twice then succeeded keeps each attempt with its own error', async () => {
        const job = await h.flaky.delay(3);
        const rec = await settledJob(client, job.id);
        expect(rec).to.include({ status: 'SUCCESS', attempts: 3, result: 3, error: null });
        expect(rec.history!.map((a) => [a.attempt, a.outcome, a.error?.name ?? null, a.error?.message ?? null])).to.deep.equal([
          [1, 'RETRIED', 'RangeError', 'attempt 1 fails'],
          [2, 'RETRIED', 'RangeError', 'attempt 2 fails'],
          [3, 'SUCCESS', null, null],
        ]);
        for (const a of rec.history!) {
          expect(ms(a.endedAt)).to.be.at.least(ms(a.startedAt));
          expect(a.workerId).to.equal(rec.workerId);
        }
        expect(rec.history![0].error!.stack).to.match(/^RangeError: attempt 1 fails\n\s+at /);
      });
    });
  }
});
