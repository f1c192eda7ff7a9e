/**
 * JobStore.settle on PostgreSQL: a batch of outcomes (records and queue actions) as one UPDATE of
 * the jobs' rows, fenced by the worker's lease; the common case (a first attempt's outcome) without
 * reading first (settleUnmerged), the others merged against the stored history (settleRows).
 * Must never: write an outcome for a job the worker no longer holds.
 */
import { compact, type Column } from './batch-params.ts';
import type { Queryable } from './db.ts';
import { COLS, TYPES, lockStored, merge, type RecordRow } from './rows.ts';

/** One outcome of JobStore.settle, its record encoded. */
export interface SettleRow {
  row: RecordRow;
  action: 'ack' | 'fail' | 'retry' | 'release';
  runAt: number | null;
}

/**
 * JobStore.settle inside the caller's transaction: for the jobs `workerId` still holds, stores the
 * records and applies the queue actions in one UPDATE; a job it no longer holds is left untouched
 * (fencing). Returns the ids applied; whether any job became claimable again (retry, release).
 */
export async function settleRows(c: Queryable, s: string, workerId: string, outcomes: SettleRow[]): Promise<{ applied: string[]; requeued: boolean }> {
  const held = await lockStored(c, s, [...new Set(outcomes.map((o) => o.row.id))], workerId);
  // One outcome per job: the last one given wins.
  const mine = lastPerJob(outcomes).filter((o) => held.has(o.row.id));
  if (mine.length === 0) return { applied: [], requeued: false };
  const rows = mine.map((o) => o.row);
  merge(rows, held);
  const { sql, params } = settleStatement(s, mine, null);
  await c.query(sql, params);
  // No DELETE of rows left without a record is needed: the UPDATE just gave every held row its record.
  return { applied: rows.map((r) => r.id), requeued: requeues(mine) };
}

/**
 * The settle of the common case as one statement, without reading first: a job `workerId` holds
 * whose stored row has no history yet and no RUNNING attempt this write would overtake (a first
 * attempt's outcome) keeps exactly the attempts the write brings, so no merge is needed. The UPDATE
 * checks that, and the lease (fencing), in its WHERE, under the row lock. Returns the ids it applied;
 * the others (`rest`) need settleRows (a merge against the stored history, or not held any more).
 */
export async function settleUnmerged(c: Queryable, s: string, workerId: string, outcomes: SettleRow[]): Promise<{ applied: string[]; rest: SettleRow[]; requeued: boolean }> {
  const mine = lastPerJob(outcomes);
  // An INTERRUPTED attempt without its start takes the stored start (mergeHistory): not this path.
  const direct = mine.filter((o) => !o.row.incoming.includes('"startedAt":null'));
  if (direct.length === 0) return { applied: [], rest: mine, requeued: false };
  for (const o of direct) o.row.history = o.row.incoming === '[]' ? null : o.row.incoming;
  const { sql, params } = settleStatement(s, direct, workerId);
  params.push(direct.length);
  const { rows } = await c.query<{ ids: string[] | null }>(sql, params);
  // One row: ids NULL when every job of the batch was applied (the common case), else the applied ones.
  const ids = rows[0]?.ids;
  if (ids === null || ids === undefined) {
    return { applied: direct.map((o) => o.row.id), rest: direct.length === mine.length ? [] : mine.filter((o) => !direct.includes(o)), requeued: requeues(direct) };
  }
  const applied = new Set(ids);
  const done = direct.filter((o) => applied.has(o.row.id));
  return { applied: done.map((o) => o.row.id), rest: mine.filter((o) => !applied.has(o.row.id)), requeued: requeues(done) };
}

function lastPerJob(outcomes: SettleRow[]): SettleRow[] {
  const last = new Map<string, SettleRow>();
  for (const o of outcomes) last.set(o.row.id, o);
  return last.size === outcomes.length ? outcomes : [...last.values()];
}

const requeues = (rows: SettleRow[]): boolean => rows.some((o) => o.action === 'retry' || o.action === 'release');

/*
 * A settle batch's columns: the record's (COLS) and the queue action's, sent as batch-params.ts
 * says (one value, an array, or joined text for the columns that are not bytes). `args` goes as
 * NULL for a job's own claimed bytes (argsRemembered): its row holds them.
 */
const SETTLE_COLS = [...COLS, 'action', 'run_at'] as const;
const SETTLE_TYPES = [...TYPES, 'text', 'int8'];
const COL = Object.fromEntries(SETTLE_COLS.map((c, i) => [c, i])) as Record<(typeof SETTLE_COLS)[number], number>;

function settleValue(o: SettleRow, c: number): unknown {
  if (c === COL.action) return o.action;
  if (c === COL.run_at) return o.runAt;
  if (c === COL.args && o.row.argsRemembered) return null;
  return o.row[COLS[c]];
}

/** The statement texts by schema, fencing and shape (one letter a column: 's' one value, 'a' an array, 'j' joined text). */
const settleSql = new Map<string, string>();
/** The most shapes kept; past it a new shape goes with every column as an array (one more text). */
const MAX_SETTLE_SHAPES = 64;

/** The settle UPDATE of `rows` and its parameters; with `workerId`, fenced and checked as settleUnmerged says. */
function settleStatement(s: string, rows: SettleRow[], workerId: string | null): { sql: string; params: unknown[] } {
  // Pushed, as enqueue.ts builds its columns: compact() then sees one kind of array (see batch-params.ts).
  const cols: Column[] = [];
  for (let c = 0; c < SETTLE_COLS.length; c++) cols.push((i: number) => settleValue(rows[i], c));
  let { shape, params } = compact(rows.length, cols, (c) => SETTLE_TYPES[c] !== 'bytea');
  let key = `${s}\u0000${workerId === null ? 'm' : 'f'}${shape}`;
  if (!settleSql.has(key) && settleSql.size >= MAX_SETTLE_SHAPES) {
    shape = 'a'.repeat(SETTLE_COLS.length);
    key = `${s}\u0000${workerId === null ? 'm' : 'f'}${shape}`;
    for (let c = 0; c < SETTLE_COLS.length; c++) if (!Array.isArray(params[c])) params[c] = rows.map((o) => settleValue(o, c));
  }
  let sql = settleSql.get(key);
  if (sql === undefined) {
    sql = SETTLE_SQL(s, shape, workerId !== null);
    settleSql.set(key, sql);
  }
  if (workerId !== null) params.push(workerId);
  return { sql, params };
}

/**
 * The settle UPDATE for a shape (see settleStatement): records stored and queue actions applied for
 * each row of the batch; `fenced` adds settleUnmerged's conditions (the worker, last parameter).
 * Tells which rows it wrote (fenced form), and NOTIFYs those it finished (notify_done_ids, schema.ts v2: the row
 * trigger leaves a settle's rows to this one call).
 * Each array is unnested through a sub-SELECT, which hides its length from the planner (it then
 * counts on 10 rows): seeing 200 ids against a jobs table of 10,000 rows (never analyzed, as a
 * fresh or churning queue often is), it read the whole table (a seq scan, 3-15 ms a settle, once
 * re-scanning the ids for every row) instead of looking each id up in the primary key (1 ms).
 */
function SETTLE_SQL(s: string, shape: string, fenced: boolean): string {
  const ref = (c: number): string => (shape[c] === 's' ? `$${c + 1}::${SETTLE_TYPES[c]}` : `u.${SETTLE_COLS[c]}`);
  const arrays = SETTLE_COLS.map((_, c) => c).filter((c) => shape[c] !== 's');
  const array = (c: number): string => (shape[c] === 'j'
    ? `(SELECT string_to_array($${c + 1}::text, E'\\x1f', E'\\x1e')::${SETTLE_TYPES[c]}[])`
    : `(SELECT $${c + 1}::${SETTLE_TYPES[c]}[])`);
  const from = arrays.length ? `FROM unnest(${arrays.map(array).join(', ')}) AS u(${arrays.map((c) => SETTLE_COLS[c]).join(', ')})` : '';
  const set = COLS.map((c, i) => [c, i] as const).filter(([c]) => c !== 'id' && c !== 'args').map(([c, i]) => `${c} = ${ref(i)}`).join(', ');
  const action = ref(COL.action);
  const args = ref(COL.args);
  // The fenced form tells which rows it wrote, in one row: NULL when all the batch's (its length is the
  // last parameter), else their ids (an id a row per job cost the driver a row each, ~1 us a job).
  const applied = fenced ? `,\n     CASE WHEN (SELECT count(*) FROM done) = $${SETTLE_COLS.length + 2}::int8 THEN NULL ELSE ARRAY(SELECT id FROM done) END AS ids` : '';
  const fence = fenced ? `AND j.worker_id = $${SETTLE_COLS.length + 1} AND j.q_state IS NOT NULL
       AND j.history IS NULL AND (j.status IS DISTINCT FROM 'RUNNING' OR j.attempts >= ${ref(COL.attempts)})` : '';
  return `WITH done AS (UPDATE ${s}.jobs AS j SET ${set},
       r_args = CASE WHEN ${args} IS NULL OR j.args = ${args} THEN NULL ELSE ${args} END,
       q_state = CASE WHEN ${action} IN ('retry', 'release') THEN 'waiting' END,
       run_at = CASE WHEN ${action} = 'retry' THEN ${ref(COL.run_at)} ELSE j.run_at END,
       q_attempts = CASE WHEN ${action} = 'release' THEN GREATEST(j.q_attempts - 1, 0) ELSE j.q_attempts END,
       worker_id = NULL, lease_expires_at = NULL, cancel_requested = false
     ${from}
     WHERE j.id = ${ref(COL.id)} ${fence}
     RETURNING j.id, j.status)
   SELECT (SELECT ${s}.notify_done_ids(array_agg(id)) FROM done WHERE status IN ('SUCCESS', 'FAILED', 'CANCELLED')) AS notified${applied}`;
}
