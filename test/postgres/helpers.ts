/**
 * The real PostgreSQL server for these tests: NUVOM_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test (trust auth). Each test makes its own schema and drops it.
 * Outside CI, a suite skips with one line when no server answers; with CI set, it fails instead.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgJobStore, PgQueue, PgResultStore } from '../../builtin-plugins/postgres/index.ts';
import type { PostgresSettings } from '../../builtin-plugins/postgres/settings.ts';
import type { Serializer } from '../../sdk/plugin.ts';

export const PG_URL = process.env.NUVOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | null> | null = null;

/** null when the server answers, else why not. */
export function serverProblem(): Promise<string | null> {
  reachable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (err) {
      return (err as Error).message || String((err as { code?: string }).code);
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** Call at the top of a describe(): skips it (or fails it in CI) when the server is not there. */
export function requirePostgres(): void {
  before(async function () { await skipWithoutPostgres(this); });
}

/** For one test (a backend among others): skips it, saying why, when no server answers; in CI that is a failure. */
export async function skipWithoutPostgres(test: Mocha.Context): Promise<void> {
  const problem = await serverProblem();
  if (!problem) return;
  if (process.env.CI) throw new Error(`PostgreSQL at ${PG_URL} is not reachable (${problem}); .ci/run should have started it`);
  console.log(`    (skipped: PostgreSQL at ${PG_URL} is not reachable: ${problem})`);
  test.skip();
}

export function schemaName(): string {
  return `nuvom_t_${randomBytes(5).toString('hex')}`;
}

export function settingsFor(schema: string, extra: Partial<PostgresSettings> = {}): PostgresSettings {
  return { postgresUrl: PG_URL, postgresSchema: schema, postgresPoolSize: 4, postgresMigrate: true, ...extra };
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** A client of the test database, for the test's own SQL. */
export async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  return c;
}

/** A JSON serializer, so tests can read stored arguments and results back as text. */
export const json: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

export interface JobStoreFixture {
  schema: string;
  queue: PgQueue;
  results: PgResultStore;
  store: PgJobStore;
}

/** Before each test a fresh schema with a queue, a result store (JSON) and their job store, given to `use`; closed and dropped after. */
export function useJobStore(use: (f: JobStoreFixture) => void): void {
  let f: JobStoreFixture;
  beforeEach(() => {
    const schema = schemaName();
    const settings = settingsFor(schema);
    const queue = new PgQueue({ settings });
    const results = new PgResultStore({ settings, serializer: json });
    f = { schema, queue, results, store: new PgJobStore(queue, results) };
    use(f);
  });
  afterEach(async () => {
    await f.queue.close();
    await f.results.close();
    await dropSchema(f.schema);
  });
}

/** A node of `EXPLAIN (FORMAT JSON)`'s plan, with the fields the plan tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

/** Every node of a plan, the root first. */
export function planNodes(n: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(n);
  for (const c of n.Plans ?? []) planNodes(c, out);
  return out;
}
