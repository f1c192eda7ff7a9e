/**
 * An outcome a worker writes after another worker took its job over (this one was paused or stalled
 * past its lease, or the hosts' clocks disagree, so it still believed it held the lease): fencing
 * writes nothing of it, and the worker must say so, not report it. No jobSucceeded, jobRetryScheduled
 * or jobFailed, no "failed, retrying" line, not counted as done: a WARN line that it was discarded.
 * The takeover is the other worker's claim as the queue's claim statement writes it (worker_id,
 * lease, q_attempts), done by the test while the job runs, so the stale worker's local lease is still good.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { definePlugin } from '../../sdk/plugin.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects, tempProject, waitFor } from '../helpers/tmp.ts';
import * as pf from '../fixtures/pool-fault-tasks.ts';
import { client as pgClient, dropSchema, PG_URL, requirePostgres, schemaName } from './helpers.ts';

describe('postgres: an outcome written after another worker took the job over', function () {
  this.timeout(60_000);
  requirePostgres();
  const schemas: string[] = [];
  after(async () => {
    for (const s of schemas) await dropSchema(s).catch(() => undefined);
    cleanupTempProjects();
  });

  for (const fail of [false, true]) {
    it(`is discarded and logged, with no outcome event and not counted (${fail ? 'a failed attempt that would retry' : 'a success'})`, async () => {
      const schema = schemaName();
      schemas.push(schema);
      const events: string[] = [];
      const spy = definePlugin({
        name: 'outcome-spy', apiVersion: 1, provides: [],
        register(ctx) {
          ctx.hooks.jobSucceeded.tap('outcome-spy', (e) => { events.push(`jobSucceeded ${e.jobId}`); });
          ctx.hooks.jobRetryScheduled.tap('outcome-spy', (e) => { events.push(`jobRetryScheduled ${e.jobId}`); });
          ctx.hooks.jobFailed.tap('outcome-spy', (e) => { events.push(`jobFailed ${e.jobId}`); });
        },
      });
      const client = await testClient({
        plugins: [spy],
        config: { queueBackend: 'postgres', resultBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema, visibilityTimeoutSecs: 30 },
      });
      const admin = await pgClient();
      const worker = await client.startWorker({ threads: 1 });
      try {
        const file = path.join(tempProject(), 'run.log');
        const h = await client.enqueue(pf.untilGo.name, [file, fail]);
        await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('started'), { what: 'the job to start' });
        // Another worker claims it (as a claim past an expired lease does) while this one still runs it.
        const took = await admin.query(`UPDATE "${schema}".jobs SET worker_id = 'other:1:takeover', lease_expires_at = $2, q_attempts = q_attempts + 1
          WHERE id = $1 AND q_state = 'leased'`, [h.id, Date.now() + 60_000]);
        expect(took.rowCount, 'the job was leased to the worker').to.equal(1);
        writeFileSync(`${file}.go`, '');
        await waitFor(() => client.logLines.some((l) => l.includes(h.id) && /discarded/.test(l)), { what: 'the worker to say it discarded the outcome' });
        const row = (await admin.query(`SELECT status, attempts, worker_id, history FROM "${schema}".jobs WHERE id = $1`, [h.id])).rows[0];
        expect(row, 'the record is the other worker\'s still').to.deep.include({ status: 'RUNNING', attempts: 1, worker_id: 'other:1:takeover', history: null });
        expect(events, 'outcome events for an outcome not written').to.deep.equal([]);
        expect(client.logLines.filter((l) => /failed, retrying|failed for good/.test(l)), 'a failure line for an attempt not written').to.deep.equal([]);
        const stats = worker.stats();
        expect({ done: stats.done, failed: stats.failed }, 'counted as ended here').to.deep.equal({ done: 0, failed: 0 });
      } finally {
        await worker.stop();
        await client.close();
        await admin.end();
      }
    });
  }
});
