/**
 * The pg driver as the PostgreSQL plugin uses it: loading it (lazily, without undici), statements
 * named once per text (prepared per connection) and run on a checked-out client without pg's config
 * copy, and telling a lost connection from a failed statement.
 * Must never: import pg at the top (an application on SQLite never loads it).
 */
import { createRequire } from 'node:module';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { NuvomError, messageOf } from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './settings.ts';

type PgModule = typeof import('pg');
let pgModule: Promise<PgModule> | null = null;

/**
 * pg (CommonJS), required. When it loads, pg 8 probes for Cloudflare Workers (lib/stream.js): where
 * `navigator` is missing (Node 20) it builds a fetch `Response`, which loads Node's fetch
 * implementation (undici), about as dear as pg itself, on the worker's path to its first job. So a
 * plain `navigator` stands in while pg loads: the require is synchronous, no other code runs before
 * it is removed. Where `navigator` exists (Node 21+) nothing is touched.
 */
function requirePg(): PgModule {
  const req = createRequire(import.meta.url);
  if ('navigator' in globalThis) return req('pg') as PgModule;
  Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'Node.js' }, configurable: true, writable: true });
  try {
    return req('pg') as PgModule;
  } finally {
    delete (globalThis as { navigator?: unknown }).navigator;
  }
}

/** pg's Query class, once pg is loaded (submitNamed). */
let pgQuery: (new (text: string, values: unknown[] | undefined, cb: (err: Error | null, res: any) => void) => import('pg').Submittable) | null = null;

/** pg, loaded on first use. */
export function loadPg(): Promise<PgModule> {
  pgModule ??= Promise.resolve().then(requirePg).then((pg) => {
    pgQuery = typeof pg.Query === 'function' ? pg.Query as unknown as typeof pgQuery : null;
    return pg;
  }).catch((err) => {
    pgModule = null;
    throw new NuvomError('NUVOM_E_PLUGIN_LOAD', `the PostgreSQL backend needs the "pg" package: ${messageOf(err)}; run npm install pg`, { plugin: PLUGIN_NAME, cause: err });
  });
  return pgModule;
}

/*
 * Statements are prepared once per connection (pg's named statements): the hot ones (claim, enqueue,
 * settle) are long, and parsing and planning them on every call cost more than running them. One name
 * per distinct text, process-wide; past MAX_NAMED texts (listJobs filter shapes...) the rest run unnamed.
 */
const names = new Map<string, string>();
const MAX_NAMED = 500;

/**
 * Runs `text` on `client` as pg's named statement, skipping the copy pg makes of a query config
 * object (Object.getOwnPropertyDescriptors, ~6 us a statement, the largest of pg's own costs on a
 * delay(), docs/benchmarks.md): the Query is built from the text and given its name. For a checked-out
 * client only (a pool's query() cannot take a built Query).
 */
export function submitNamed<R extends QueryResultRow>(client: PoolClient, text: string, values?: unknown[]): Promise<QueryResult<R>> {
  const q = named(text, values);
  const Query = pgQuery;
  if (Query === null || q.name === undefined) return client.query<R>(q);
  return new Promise((resolve, reject) => {
    const query = new Query(text, values, (err: Error | null, res: QueryResult<R>) => (err ? reject(err) : resolve(res)));
    (query as { name?: string }).name = q.name;
    client.query(query);
  });
}

/** pg's query config for `text`, named when it can be. */
export function named(text: string, values?: unknown[]): { name?: string; text: string; values?: unknown[] } {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `nuvom_${names.size}`;
    names.set(text, name);
  }
  return name === undefined ? { text, values } : { name, text, values };
}

const LOST_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);

/**
 * True for an error that means the connection (not the statement) failed: worth a retry on a new one.
 * `timeout expired` is a new connection's own connect timeout (connect.ts CONNECT_TIMEOUT_MS, set on
 * each Client): nothing was sent on it. (The pool's timeout, which it replaced, said "connection timeout".)
 */
export function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  if (code && LOST_CODES.has(code)) return true;
  const m = messageOf(err);
  return /Connection terminated|connection timeout|timeout expired|Client has encountered a connection error|terminating connection|server closed the connection|not queryable/i.test(m);
}
