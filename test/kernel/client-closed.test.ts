/**
 * A closed client, and task().delay() once every client is closed: each refuses with
 * NUVOM_E_CLIENT_CLOSED instead of quietly building its services again, or enqueueing through a new
 * default client that may write to another backend.
 */
import { expect } from 'chai';
import { isNuvomError } from '../../sdk/plugin.ts';
import { taskTable } from '../../sdk/task.ts';
import { testClient } from '../helpers/client.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    expect(isNuvomError(err, 'NUVOM_E_CLIENT_CLOSED'), String(err)).to.equal(true);
    return err as Error;
  }
  throw new Error('expected NUVOM_E_CLIENT_CLOSED, but it resolved');
}

describe('a closed client', function () {
  this.timeout(30_000);
  // The task table is the process's: other files' clients must not serve this file's delay() calls.
  const table = taskTable();
  let saved: { dispatch: typeof table.dispatch; open: typeof table.open };
  beforeEach(() => {
    saved = { dispatch: table.dispatch, open: table.open };
    table.dispatch = null;
    table.open = undefined;
  });
  afterEach(() => {
    Object.assign(table, saved);
    cleanupTempProjects();
  });

  it('refuses every call after close() with NUVOM_E_CLIENT_CLOSED naming createClient()', async () => {
    const client = await testClient();
    const h = await client.enqueue('wt.add', [1, 2]);
    await client.close();
    const err = await refusal(client.getJob(h.id));
    expect(err.message).to.contain('createClient()');
    await refusal(client.enqueue('wt.add', [3, 4]));
    await refusal(client.listJobs({}));
    await refusal(client.stats());
    await refusal(client.startWorker({ threads: 1 }));
  });

  it('a second close() resolves only once the first has stopped the client\'s workers', async () => {
    const client = await testClient();
    const worker = await client.startWorker({ threads: 1 });
    let stopped = false;
    void worker.done.then(() => { stopped = true; });
    const first = client.close();
    await client.close();
    expect(stopped, 'the worker had stopped when the second close() resolved').to.equal(true);
    await first;
  });

  it('ends a result() still waiting when its client closes, with NUVOM_E_CLIENT_CLOSED naming the job', async () => {
    const client = await testClient();
    const h = await t.add.delay(7, 7);
    const waiting = h.result();
    const err = refusal(waiting);
    await client.close();
    expect((await err).message).to.contain(h.id);
  });

  it('refuses task().delay() once the only client is closed, instead of making a default client', async () => {
    const client = await testClient();
    expect((await t.add.delay(1, 1)).id).to.be.a('string');
    await client.close();
    const err = await refusal(t.add.delay(2, 2));
    expect(err.message).to.contain('createClient()');
    expect(err.message).to.contain('nothing was enqueued');
    // A client created afterwards serves delay() again.
    const next = await testClient();
    try {
      const h = await t.add.delay(3, 3);
      expect((await next.getJob(h.id))?.status).to.equal('PENDING');
    } finally {
      await next.close();
    }
  });

  it('hands task().delay() to the oldest client still open when the one serving it closes', async () => {
    const first = await testClient();
    const second = await testClient();
    try {
      await first.close();
      const h = await t.add.delay(5, 5);
      expect((await second.getJob(h.id))?.status).to.equal('PENDING');
    } finally {
      await second.close();
    }
  });
});
