/**
 * The tables of the SQLite plugin. Queue, results and schedules may live in one file or in separate
 * files, so each service creates only its own part; `PRAGMA user_version` records the schema version
 * of the file as a whole.
 * Must never: drop or rewrite existing data. A change of shape is a new SCHEMA_VERSION plus a migration
 * step here, run inside the same IMMEDIATE transaction.
 */
import { NuvomError } from '../../sdk/plugin.ts';
import type Database from 'better-sqlite3';
import { ensureCounts } from './counts.ts';

/*
 * 1: the first release. 2: nuvom_results.history (the attempts, JSON), and nullable queue_name,
 * dedupe_key, parent_id, progress columns. 3: one row per job (nuvom_jobs), replacing nuvom_queue and
 * nuvom_results; v1 and v2 files are migrated on open (migrateToOneRow). 4: no index on
 * (created_at, id): every enqueue wrote a page of it, and the listing it served reads the status
 * index instead, one status at a time (results.ts); v3 files lose the index on open.
 */
export const SCHEMA_VERSION = 4;

export type SchemaPart = 'queue' | 'results' | 'schedules';

/*
 * One row per job: its queue entry and its record. The queue part is there while the job is queued
 * (state not NULL), the record part once a record was written (status not NULL); a row with neither
 * is deleted. When the queue and the result store are on one file (the default) a job is one row,
 * written once per step (docs/backends.md "One row per job"); on split files each file holds its own
 * part of the rows, through the same statements.
 *
 * The queue part moves between three states:
 *   waiting: not claimed; run_at may be in the future (delayed, or retry back-off);
 *   ready:   not claimed and run_at has passed (moved here by the claim transaction, see queue.ts);
 *   leased:  claimed by lease_owner until lease_expires_at.
 * The claim reads only the partial index of `ready` rows, already in priority/FIFO (seq) order, so
 * delayed rows never sit in front of ready ones and a claim never scans past them. A job queued
 * again (a retried FAILED job) takes a new seq, the back of the line.
 *
 * The queue's `attempts` and `lease_owner` and the record's `rec_attempts` and `worker_id` are kept
 * apart: they agree at every commit of the job store, but a third party may write one side alone.
 * Indexes: the claim, the waiting rows (promotion, nextRunAt), the leases (sweep), and the record
 * listings (by status, by task, completed since). An enqueue writes a page of each index it touches
 * in its commit: the claim (or waiting), id, status and task ones, and the table; a listing of any
 * status newest first merges the status index's runs (results.ts), so no index keys on created_at alone.
 */
const JOBS = `
CREATE TABLE IF NOT EXISTS nuvom_jobs (
  seq              INTEGER PRIMARY KEY,
  id               TEXT    NOT NULL UNIQUE,
  task_name        TEXT    NOT NULL,
  args             BLOB    NOT NULL,
  priority         INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  state            TEXT    CHECK (state IN ('waiting', 'ready', 'leased')),
  run_at           INTEGER,
  attempts         INTEGER NOT NULL DEFAULT 0,
  options          TEXT,
  meta             TEXT,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  status           TEXT,
  rec_attempts     INTEGER,
  max_retries      INTEGER,
  retries_left     INTEGER,
  tags             TEXT,
  started_at       INTEGER,
  completed_at     INTEGER,
  next_run_at      INTEGER,
  result           BLOB,
  error            TEXT,
  timeout_secs     REAL,
  timeout_policy   TEXT,
  worker_id        TEXT,
  history          TEXT,
  progress         TEXT,
  queue_name       TEXT,
  dedupe_key       TEXT,
  parent_id        TEXT
);
CREATE INDEX IF NOT EXISTS nuvom_jobs_claim ON nuvom_jobs (priority DESC, seq, run_at) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS nuvom_jobs_waiting ON nuvom_jobs (run_at) WHERE state = 'waiting';
CREATE INDEX IF NOT EXISTS nuvom_jobs_lease ON nuvom_jobs (lease_expires_at) WHERE state = 'leased';
CREATE INDEX IF NOT EXISTS nuvom_jobs_status ON nuvom_jobs (status, created_at, id);
CREATE INDEX IF NOT EXISTS nuvom_jobs_task ON nuvom_jobs (task_name, created_at, id);
CREATE INDEX IF NOT EXISTS nuvom_jobs_completed ON nuvom_jobs (completed_at) WHERE completed_at IS NOT NULL;
`;

const SCHEDULES = `
CREATE TABLE IF NOT EXISTS nuvom_schedules (
  id          TEXT    PRIMARY KEY,
  task_name   TEXT    NOT NULL,
  args        BLOB    NOT NULL,
  priority    INTEGER NOT NULL,
  options     TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  every_secs  REAL,
  cron        TEXT,
  timezone    TEXT,
  misfire     TEXT    NOT NULL,
  next_run_at INTEGER,
  last_run_at INTEGER,
  status      TEXT    NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nuvom_schedules_due ON nuvom_schedules (status, next_run_at);
`;

// A file made for jobs gets the (empty) schedules table with them: opening the schedule store later
// (\`nuvom doctor\`, \`nuvom schedule list\`, which only read) then creates nothing in it.
const PARTS: Record<SchemaPart, string> = { queue: JOBS + SCHEDULES, results: JOBS + SCHEDULES, schedules: SCHEDULES };

function columnsOf(db: Database.Database, table: string): Set<string> {
  return new Set((db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name));
}

/*
 * v1/v2 -> v3: the rows of nuvom_results and nuvom_queue (whichever the file has) become rows of
 * nuvom_jobs, records first (by creation), then the queue entries in their queue order, each
 * joining its record's row and taking a new seq so the FIFO order is kept; then the old tables go.
 * Columns a v1 table lacks (history, the v2 nullables) come over as NULL.
 */
function migrateToOneRow(db: Database.Database): void {
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]));
  if (tables.has('nuvom_results')) {
    const has = columnsOf(db, 'nuvom_results');
    const opt = (c: string) => (has.has(c) ? c : 'NULL');
    db.exec(`INSERT INTO nuvom_jobs (id, task_name, args, priority, created_at, status, rec_attempts, max_retries, retries_left, tags,
               started_at, completed_at, next_run_at, result, error, timeout_secs, timeout_policy, worker_id, history, progress, queue_name, dedupe_key, parent_id)
             SELECT id, task_name, args, priority, created_at, status, attempts, max_retries, retries_left, tags,
               started_at, completed_at, next_run_at, result, error, timeout_secs, timeout_policy, worker_id,
               ${opt('history')}, ${opt('progress')}, ${opt('queue_name')}, ${opt('dedupe_key')}, ${opt('parent_id')}
             FROM nuvom_results WHERE true ORDER BY created_at, id
             ON CONFLICT (id) DO NOTHING`);
    db.exec('DROP TABLE nuvom_results');
  }
  if (tables.has('nuvom_queue')) {
    const has = columnsOf(db, 'nuvom_queue');
    const opt = (c: string) => (has.has(c) ? c : 'NULL');
    // Row by row: an uncorrelated MAX(seq) subquery is evaluated once per statement.
    const upsert = db.prepare(`INSERT INTO nuvom_jobs (id, task_name, args, priority, created_at, run_at, attempts, options, meta, state,
               lease_owner, lease_expires_at, cancel_requested, queue_name, dedupe_key, parent_id)
             VALUES (@id, @task_name, @args, @priority, @created_at, @run_at, @attempts, @options, @meta, @state,
               @worker_id, @lease_expires_at, @cancel_requested, @queue_name, @dedupe_key, @parent_id)
             ON CONFLICT (id) DO UPDATE SET args = excluded.args, run_at = excluded.run_at, attempts = excluded.attempts,
               options = excluded.options, meta = excluded.meta, state = excluded.state, lease_owner = excluded.lease_owner,
               lease_expires_at = excluded.lease_expires_at, cancel_requested = excluded.cancel_requested,
               seq = (SELECT MAX(seq) + 1 FROM nuvom_jobs)`);
    const rows = db.prepare(`SELECT id, task_name, args, priority, created_at, run_at, attempts, options, meta, state, worker_id,
               lease_expires_at, cancel_requested, ${opt('queue_name')} AS queue_name, ${opt('dedupe_key')} AS dedupe_key,
               ${opt('parent_id')} AS parent_id FROM nuvom_queue ORDER BY seq`).all();
    for (const row of rows) upsert.run(row);
    db.exec('DROP TABLE nuvom_queue');
  }
}

/**
 * Creates `part`'s tables if missing, migrates them to SCHEMA_VERSION and stamps it, all in one
 * IMMEDIATE transaction (two processes opening a v1 file at once migrate it once); refuses a file
 * from a newer nuvom.
 * @internal (better-sqlite3's types stay out of the published declarations)
 */
export function ensureSchema(db: Database.Database, part: SchemaPart): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new NuvomError('NUVOM_E_STORAGE', `SQLite file ${db.name} has schema version ${version}, newer than this nuvom understands (${SCHEMA_VERSION}); upgrade nuvom or point NUVOM_SQLITE_PATH at another file`, { plugin: 'nuvom-sqlite' });
    }
    db.exec(PARTS[part]);
    // By the tables the file has, not by user_version alone: a schedules-only open may have stamped it.
    if (part !== 'schedules') {
      migrateToOneRow(db);
      db.exec('DROP INDEX IF EXISTS nuvom_jobs_created'); // v3 -> v4
    }
    if (part === 'results') ensureCounts(db); // counters kept by triggers (counts.ts)
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
