/**
 * A worker asks for the queue's next run time after every claim that comes back short (to wake for
 * a delayed job before its poll). The claim statement reads it too, so on a quiet queue a job costs
 * no extra round trip sent while it runs; the value read that way must never outlive a change to
 * the queue that the worker was told of.
 */
import { expect } from 'chai';
import { PgQueue } from '../../builtin-plugins/postgres/index.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { dropSchema, requirePostgres, schemaName, settingsFor } from './helpers.ts';
import { waitFor } from '../helpers/tmp.ts';

describe('postgres: the next run time after a short claim', function () {
  this.timeout(30_000);
  requirePostgres();
  let schema: string;
  let queue: PgQueue;
  let other: PgQueue;
  let statements: string[];

  beforeEach(async () => {
    schema = schemaName();
    queue = new PgQueue({ settings: settingsFor(schema) });
    other = new PgQueue({ settings: settingsFor(schema) });
    await queue.qsize(); // migrates the schema
    statements = [];
    const db = queue.db as unknown as { query: (what: string, ...rest: unknown[]) => Promise<unknown> };
    const query = db.query.bind(db);
    db.query = (what, ...rest) => { statements.push(what); return query(what, ...rest); };
  });
  afterEach(async () => {
    await queue.close();
    await other.close();
    await dropSchema(schema);
  });

  it('comes with the claim: no statement of its own, once', async () => {
    const now = Date.now();
    await queue.enqueueMany([makeQueuedJob({ id: 'due', runAt: now - 10 }), makeQueuedJob({ id: 'later', runAt: now + 60_000 })]);
    const jobs = await queue.claim({ max: 10, workerId: 'w1', leaseMs: 30_000 });
    expect(jobs.map((j) => j.id)).to.deep.equal(['due']);
    statements = [];
    expect(await queue.nextRunAt()).to.equal(now + 60_000);
    expect(statements, 'read by the claim, not by a statement of its own').to.deep.equal([]);
    // Taken by that call: the next one reads the table.
    expect(await queue.nextRunAt()).to.equal(now + 60_000);
    expect(statements).to.deep.equal(['reading the next run time']);
  });

  it('is not kept past a notification: a job enqueued elsewhere after the claim is seen', async () => {
    const now = Date.now();
    let notes = 0;
    let noted: () => void = () => undefined;
    queue.subscribe(() => { notes++; noted(); });
    const note = () => new Promise<void>((resolve) => { noted = resolve; });
    // The subscriber is called once the LISTEN is in place (listener.ts): from then on, each enqueue's
    // notification is the one awaited below (before it, the first wait ended on that call instead,
    // and the claim then ran while a notification arrived).
    await waitFor(() => notes > 0, { what: 'the LISTEN to be in place' });
    const first = note();
    await queue.enqueueMany([makeQueuedJob({ id: 'later', runAt: now + 60_000 })]);
    await first;
    const second = note();
    await queue.enqueueMany([makeQueuedJob({ id: 'due', runAt: now - 10 })]);
    await second; // not during the claim, which would keep it from reading the next run time
    const jobs = await queue.claim({ max: 10, workerId: 'w1', leaseMs: 30_000 });
    expect(jobs.map((j) => j.id)).to.deep.equal(['due']);
    expect((queue as unknown as { peeked: unknown }).peeked, 'the claim read the next run time').to.deep.equal({ at: now + 60_000 });
    const seen = notes;
    const arrived = note();
    await other.enqueueMany([makeQueuedJob({ id: 'sooner', runAt: now + 30_000 })]);
    await arrived;
    expect(notes).to.be.greaterThan(seen);
    expect(await queue.nextRunAt()).to.equal(now + 30_000);
  });

  it('a full claim says nothing of the next run time: it is read when asked', async () => {
    const now = Date.now();
    await queue.enqueueMany([makeQueuedJob({ id: 'a', runAt: now - 10 }), makeQueuedJob({ id: 'b', runAt: now - 10 }), makeQueuedJob({ id: 'c', runAt: now + 60_000 })]);
    expect((await queue.claim({ max: 1, workerId: 'w1', leaseMs: 30_000 })).map((j) => j.id)).to.deep.equal(['a']);
    statements = [];
    expect(await queue.nextRunAt()).to.equal(now - 10);
    expect(statements).to.deep.equal(['reading the next run time']);
  });
});
