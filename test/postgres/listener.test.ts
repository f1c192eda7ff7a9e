/**
 * The LISTEN connection tells its subscribers to look once it is in place: a NOTIFY sent before the
 * LISTEN (a job enqueued after a worker's first claim, while its LISTEN connection was still coming
 * up) would otherwise wait for the worker's next poll, a second later.
 */
import { expect } from 'chai';
import pg from 'pg';
import { PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import { Listener } from '../../builtin-plugins/postgres/listener.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { waitFor } from '../helpers/tmp.ts';
import { dropSchema, PG_URL, requirePostgres, schemaName, settingsFor } from './helpers.ts';

describe('postgres: the LISTEN connection', function () {
  this.timeout(30_000);
  requirePostgres();

  it('tells a subscriber to look once the LISTEN is in place, so a job enqueued before it is not left for the next poll', async () => {
    const schema = schemaName();
    // Two pools (the pool size is part of the shared pool's key): a producer, and a worker's queue.
    const producer = new PgQueue({ settings: settingsFor(schema, { postgresPoolSize: 2 }) });
    const worker = new PgQueue({ settings: settingsFor(schema) });
    try {
      await producer.enqueue(makeQueuedJob({ runAt: Date.now() - 1000 })); // its NOTIFY went before any LISTEN
      let looks = 0;
      worker.subscribe(() => { looks++; });
      await waitFor(() => looks > 0, { timeoutMs: 10_000, what: 'the subscriber to be told to look' });
      const claimed = await worker.claim({ max: 10, workerId: 'w1', leaseMs: 30_000 });
      expect(claimed).to.have.length(1);
    } finally {
      await worker.close();
      await producer.close();
      await dropSchema(schema);
    }
  });

  it('tells the subscribers of a channel added to a live LISTEN connection to look once that LISTEN is in place', async () => {
    const schema = schemaName();
    const queue = new PgQueue({ settings: settingsFor(schema) });
    const results = new PgResultStore({ settings: settingsFor(schema), serializer: { name: 'json', encode: (v: unknown) => Buffer.from(JSON.stringify(v)), decode: (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()) } as never });
    try {
      let looks = 0;
      queue.subscribe(() => { looks++; });
      await waitFor(() => looks > 0, { timeoutMs: 10_000, what: 'the queue subscriber to be told to look' });
      const told: Array<string | null> = [];
      const off = results.subscribeFinal!((id) => { told.push(id); });
      await waitFor(() => told.includes(null), { timeoutMs: 10_000, what: 'the result subscriber to be told to look' });
      off();
    } finally {
      await results.close();
      await queue.close();
      await dropSchema(schema);
    }
  });

  it('sends the LISTENs and UNLISTENs of channels added and dropped at once one at a time (node-postgres 8 warns of, and pg 9 drops, a statement queued behind another)', async () => {
    let inFlight = 0;
    let most = 0;
    const listener = new Listener(async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      const query = c.query.bind(c) as (sql: string) => Promise<unknown>;
      (c as unknown as { query: (sql: string) => Promise<unknown> }).query = (sql: string) => {
        most = Math.max(most, ++inFlight);
        return query(sql).finally(() => { inFlight--; });
      };
      return c;
    });
    try {
      const looked: Array<string | null> = [];
      listener.add('nuvom_listener_probe_0', (p) => { looked.push(p); });
      await waitFor(() => looked.includes(null), { timeoutMs: 10_000, what: 'the first LISTEN to be in place' });
      most = 0;
      const offs = Array.from({ length: 8 }, (_, i) => listener.add(`nuvom_listener_probe_${i + 1}`, () => undefined));
      for (const off of offs) off();
      await waitFor(() => inFlight === 0 && most > 0, { timeoutMs: 10_000, what: 'the LISTENs and UNLISTENs to be sent' });
      expect(most, 'statements in flight at once on the LISTEN connection').to.equal(1);
    } finally {
      await listener.close();
    }
  });
});
