/**
 * Job records <-> the record columns of the `jobs` row (schema.ts), and the one statement that
 * writes a batch of them. Shared by the result store (putMany), the queue (enqueue of whole rows) and
 * the job store's settle (settle.ts: records and queue actions in the same UPDATE). The history is merged in JS against
 * the stored row, read FOR UPDATE in the same transaction (mergeHistory, nuvom/plugin).
 * Must never: write a record it could not encode (encode everything first, then write).
 */
import {
  JOB_STATUSES, NuvomError, argsBytesOf, historyOf, mergeHistory, type AttemptRecord, type JobError, type JobRecord, type JobStatus, type Serializer, type TimeoutPolicy,
} from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './settings.ts';
import type { Queryable } from './db.ts';

export interface RecordRow {
  id: string;
  status: JobStatus;
  r_task_name: string;
  /** A Buffer, or the bytes argsBytesOf gave, as they came (argsRemembered): the driver takes either. */
  args: Buffer | Uint8Array;
  r_priority: number;
  r_created_at: number;
  attempts: number;
  max_retries: number;
  retries_left: number;
  tags: string;
  started_at: number | null;
  completed_at: number | null;
  next_run_at: number | null;
  result: Buffer | null;
  error: string | null;
  timeout_secs: number;
  timeout_policy: TimeoutPolicy;
  r_worker_id: string | null;
  history: string | null;
  /** The attempts this write brings (JSON), kept apart from `history` so a retried transaction merges afresh. */
  incoming: string;
  /**
   * `args` came from argsBytesOf (a claimed job's own bytes, or those the dispatcher just encoded): a
   * settle, whose records are claimed jobs', need not send them (its row holds them).
   */
  argsRemembered: boolean;
}

/** What the stored row holds for the history merge. */
export interface StoredRow {
  id: string;
  status: JobStatus;
  attempts: number;
  started_at: number | null;
  r_worker_id: string | null;
  history: string | null;
}

export const toBuf = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A serializer's bytes for null (most results: a task that returns nothing), encoded once. */
const nulls = new WeakMap<Serializer, Buffer>();
function encodedNull(serializer: Serializer): Buffer {
  let b = nulls.get(serializer);
  if (b === undefined) nulls.set(serializer, (b = toBuf(serializer.encode(null))));
  return b;
}
export const toBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/* The last few dates parsed: a batch's records repeat a few (iso() in nuvom/plugin made them from a few ms values). */
const msText = ['', '', '', ''];
const msValue = [0, 0, 0, 0];
let msNext = 0;

function ms(value: string | number | null | undefined, what: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') for (let i = 0; i < 4; i++) if (msText[i] === value) return msValue[i];
  const t = typeof value === 'number' ? value : Date.parse(value);
  if (typeof value === 'string' && Number.isFinite(t)) {
    msText[msNext] = value;
    msValue[msNext] = t;
    msNext = (msNext + 1) & 3;
  }
  if (!Number.isFinite(t)) throw new NuvomError('NUVOM_E_STORAGE', `${what} must be an ISO-8601 date string or epoch milliseconds, got ${JSON.stringify(value)}`, { plugin: PLUGIN_NAME });
  return t;
}

function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${what} must be JSON-safe`, { plugin: PLUGIN_NAME });
  return text;
}

/*
 * The JSON of the last few single-attempt histories without an error: the jobs of a settle batch
 * mostly ran in the same few milliseconds on one worker thread, so their attempts often read alike
 * (the same ISO strings even: iso() in nuvom/plugin hands out the same ones), and JSON.stringify
 * costs 1-2.5 us for one attempt here (V8 11, Node 20).
 */
const oneAttempt: Array<{ a: AttemptRecord; text: string } | null> = [null, null, null, null];
let oneNext = 0;

/** JSON.stringify(list), remembered for a lone attempt without an error (historyOf's shape: these seven keys). */
function attemptsJson(list: readonly AttemptRecord[]): string {
  if (list.length !== 1 || list[0].error !== null) return JSON.stringify(list);
  const a = list[0];
  for (let i = 0; i < 4; i++) {
    const k = oneAttempt[i]?.a;
    if (k !== undefined && k.attempt === a.attempt && k.startedAt === a.startedAt && k.endedAt === a.endedAt && k.outcome === a.outcome
      && k.workerId === a.workerId && (k.threadId === a.threadId || (Number.isNaN(k.threadId) && Number.isNaN(a.threadId)))) return oneAttempt[i]!.text;
  }
  const text = JSON.stringify(list);
  oneAttempt[oneNext] = { a, text };
  oneNext = (oneNext + 1) & 3;
  return text;
}

/** A record as row values; throws (NUVOM_E_USAGE, NUVOM_E_UNSERIALIZABLE) before anything is written. */
export function toRecordRow(r: JobRecord, serializer: Serializer): RecordRow {
  if (!JOB_STATUSES.includes(r.status)) {
    throw new NuvomError('NUVOM_E_JOB_STATE', `job ${r.id} has status ${JSON.stringify(r.status)}; expected one of ${JOB_STATUSES.join(', ')}`, { plugin: PLUGIN_NAME });
  }
  const remembered = argsBytesOf(r.args);
  return {
    id: r.id,
    status: r.status,
    r_task_name: r.taskName,
    args: remembered ?? toBuf(serializer.encode(r.args)),
    argsRemembered: remembered !== undefined,
    r_priority: r.priority,
    r_created_at: ms(r.createdAt, `createdAt of job ${r.id}`) as number,
    attempts: r.attempts,
    max_retries: r.maxRetries,
    retries_left: r.retriesLeft,
    // No tags (most jobs): the text of an empty list without a JSON.stringify a job.
    tags: Array.isArray(r.tags) && r.tags.length === 0 ? '[]' : json(r.tags ?? [], `the tags of job ${r.id}`),
    started_at: ms(r.startedAt, `startedAt of job ${r.id}`),
    completed_at: ms(r.completedAt, `completedAt of job ${r.id}`),
    next_run_at: ms(r.nextRunAt, `nextRunAt of job ${r.id}`),
    result: r.result === undefined ? null : r.result === null ? encodedNull(serializer) : toBuf(serializer.encode(r.result)),
    error: r.error ? json({ name: r.error.name, message: r.error.message, stack: r.error.stack ?? null }, `the error of job ${r.id}`) : null,
    timeout_secs: r.timeoutSecs,
    timeout_policy: r.timeoutPolicy,
    r_worker_id: r.workerId ?? null,
    history: null,
    // A record without attempts (every enqueue's) brings none.
    // Merged against nothing, the checked attempts come back as historyOf made them: attemptsJson's input.
    incoming: Array.isArray(r.history) && r.history.length === 0 ? '[]' : attemptsJson(mergeHistory(null, historyOf(r.history, r.id, 'NUVOM_E_USAGE', PLUGIN_NAME), r)),
  };
}

/** Merges each row's history into the stored one (rows in `stored` by id). */
export function merge(rows: RecordRow[], stored: Map<string, StoredRow>): void {
  for (const row of rows) {
    const prev = stored.get(row.id);
    const incoming = JSON.parse(row.incoming);
    const merged = mergeHistory(
      prev ? { history: prev.history ? JSON.parse(prev.history) : null, status: prev.status, attempts: prev.attempts, startedAt: iso(prev.started_at), workerId: prev.r_worker_id } : null,
      incoming, { attempts: row.attempts, startedAt: iso(row.started_at) },
    );
    row.history = merged.length ? JSON.stringify(merged) : null;
  }
}

export const COLS = ['id', 'status', 'r_task_name', 'args', 'r_priority', 'r_created_at', 'attempts', 'max_retries', 'retries_left', 'tags', 'started_at',
  'completed_at', 'next_run_at', 'result', 'error', 'timeout_secs', 'timeout_policy', 'r_worker_id', 'history'] as const;
export const TYPES = ['text', 'text', 'text', 'bytea', 'int', 'int8', 'int', 'int', 'int', 'text', 'int8', 'int8', 'int8', 'bytea', 'text', 'float8', 'text', 'text', 'text'];
const UNNEST = `unnest(${COLS.map((_, i) => `$${i + 1}::${TYPES[i]}[]`).join(', ')}) AS u(${COLS.join(', ')})`;

function columns(rows: RecordRow[]): unknown[][] {
  return COLS.map((c) => rows.map((r) => r[c]));
}

/** Stored rows (record part) of `ids`, locked until the transaction ends. `holder`: only rows queued and held by that worker. */
export async function lockStored(c: Queryable, s: string, ids: string[], holder?: string): Promise<Map<string, StoredRow>> {
  const { rows } = holder === undefined
    ? await c.query<StoredRow>(`SELECT id, status, attempts, started_at, r_worker_id, history FROM ${s}.jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids])
    : await c.query<StoredRow>(`SELECT id, status, attempts, started_at, r_worker_id, history FROM ${s}.jobs WHERE id = ANY($1::text[]) AND worker_id = $2 AND q_state IS NOT NULL ORDER BY id FOR UPDATE`, [ids, holder]);
  return new Map(rows.map((r) => [r.id, r]));
}

/** Upserts records inside the caller's transaction (one statement for the batch). The last write of an id wins. */
export async function writeRecords(c: Queryable, s: string, rows: RecordRow[]): Promise<void> {
  if (rows.length === 0) return;
  const stored = await lockStored(c, s, [...new Set(rows.map((r) => r.id))]);
  // A batch that writes one id twice: apply in order, each merging into the one before.
  const batches = splitRepeats(rows);
  for (const batch of batches) {
    merge(batch, stored);
    await c.query(
      `INSERT INTO ${s}.jobs (id, task_name, args, priority, created_at, ${COLS.filter((x) => x !== 'id' && x !== 'args').join(', ')})
       SELECT u.id, u.r_task_name, u.args, u.r_priority, u.r_created_at, ${COLS.filter((x) => x !== 'id' && x !== 'args').map((x) => `u.${x}`).join(', ')} FROM ${UNNEST}
       ON CONFLICT (id) DO UPDATE SET ${COLS.filter((x) => x !== 'id' && x !== 'args').map((x) => `${x} = excluded.${x}`).join(', ')},
         r_args = CASE WHEN jobs.args = excluded.args THEN NULL ELSE excluded.args END`,
      columns(batch),
    );
    for (const r of batch) stored.set(r.id, { id: r.id, status: r.status, attempts: r.attempts, started_at: r.started_at, r_worker_id: r.r_worker_id, history: r.history });
  }
}

/** Takes jobs out of the queue (ack, fail): rows without a record go, the others keep their record. */
export async function removeQueued(c: Queryable, s: string, ids: string[], workerId: string | null): Promise<number> {
  const holder = workerId === null ? '' : 'AND worker_id = $2';
  const params = workerId === null ? [ids] : [ids, workerId];
  const { rows } = await c.query<{ n: number }>(
    `WITH gone AS (DELETE FROM ${s}.jobs WHERE id = ANY($1::text[]) ${holder} AND q_state IS NOT NULL AND status IS NULL RETURNING 1),
          kept AS (UPDATE ${s}.jobs SET q_state = NULL, worker_id = NULL, lease_expires_at = NULL, cancel_requested = false
                    WHERE id = ANY($1::text[]) ${holder} AND q_state IS NOT NULL AND status IS NOT NULL RETURNING 1)
     SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM kept) AS n`,
    params,
  );
  return Number(rows[0]?.n ?? 0);
}

function splitRepeats(rows: RecordRow[]): RecordRow[][] {
  const out: RecordRow[][] = [];
  let cur: RecordRow[] = [];
  let seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.id)) { out.push(cur); cur = []; seen = new Set(); }
    cur.push(r);
    seen.add(r.id);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** The record columns as read back (SELECT RECORD_SELECT). */
export const RECORD_SELECT = `id, status, r_task_name, COALESCE(r_args, args) AS args, r_priority, r_created_at, attempts, max_retries, retries_left, tags,
  started_at, completed_at, next_run_at, result, error, timeout_secs, timeout_policy, r_worker_id, history`;
/** RECORD_SELECT without the arguments (NULL: toRecord gives []). */
export const RECORD_SELECT_NO_ARGS = RECORD_SELECT.replace('COALESCE(r_args, args) AS args', 'NULL::bytea AS args');

export function toRecord(row: RecordRow, serializer: Serializer): JobRecord {
  const decode = (b: Uint8Array, what: string) => {
    try {
      return serializer.decode(toBytes(b));
    } catch (err) {
      throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored ${what} of job ${row.id} could not be decoded by the "${serializer.name}" serializer: ${(err as Error).message}; was it written with another serializationBackend?`, { plugin: PLUGIN_NAME, cause: err, details: { jobId: row.id } });
    }
  };
  const parse = (text: string, what: string): unknown => {
    try { return JSON.parse(text); } catch (err) {
      throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored ${what} of job ${row.id} is not valid JSON: ${(err as Error).message}`, { plugin: PLUGIN_NAME, cause: err, details: { jobId: row.id } });
    }
  };
  // NULL: left out by the listing (ListJobsFilter.withArgs false).
  const args = row.args === null ? [] : decode(row.args, 'arguments');
  if (!Array.isArray(args)) throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored arguments of job ${row.id} decoded to ${typeof args}, not a list`, { plugin: PLUGIN_NAME, details: { jobId: row.id } });
  return {
    id: row.id,
    taskName: row.r_task_name,
    args,
    status: row.status,
    attempts: row.attempts,
    maxRetries: row.max_retries,
    retriesLeft: row.retries_left,
    priority: row.r_priority,
    tags: parse(row.tags, 'tags') as string[],
    createdAt: iso(row.r_created_at) as string,
    startedAt: iso(row.started_at),
    completedAt: iso(row.completed_at),
    nextRunAt: iso(row.next_run_at),
    result: row.result === null ? undefined : decode(row.result, 'result'),
    error: row.error === null ? null : (parse(row.error, 'error') as JobError),
    timeoutSecs: row.timeout_secs,
    timeoutPolicy: row.timeout_policy,
    workerId: row.r_worker_id,
    history: row.history === null ? [] : historyOf(parse(row.history, 'history'), row.id, 'NUVOM_E_DESERIALIZE', PLUGIN_NAME),
  };
}
