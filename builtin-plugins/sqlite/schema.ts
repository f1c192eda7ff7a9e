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
 * 1: the first release. 2: nuvom_results.history (the attempts, JSON), and nullable columns that the
 * one-row-per-job rework (issue 17) needs, added now so that it needs no second migration for them:
 * queue_name, dedupe_key, parent_id (flow) on both tables, progress (JSON) on nuvom_results.
 */
export const SCHEMA_VERSION = 2;

export type SchemaPart = 'queue' | 'results' | 'schedules';

/*
 * Queue rows move between three states:
 *   waiting: not claimed; run_at may be in the future (delayed, or retry back-off);
 *   ready:   not claimed and run_at has passed (moved here by the claim transaction, see queue.ts);
 *   leased:  claimed by worker_id until lease_expires_at.
 * The claim reads only the partial index of `ready` rows, already in priority/FIFO order, so delayed
 * rows never sit in front of ready ones and a claim never scans past them.
 */
const QUEUE = `
CREATE TABLE IF NOT EXISTS nuvom_queue (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  id               TEXT    NOT NULL UNIQUE,
  task_name        TEXT    NOT NULL,
  args             BLOB    NOT NULL,
  priority         INTEGER NOT NULL,
  run_at           INTEGER NOT NULL,
  attempts         INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  options          TEXT    NOT NULL,
  meta             TEXT    NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('waiting', 'ready', 'leased')),
  worker_id        TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS nuvom_queue_claim ON nuvom_queue (priority DESC, seq, run_at) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS nuvom_queue_state_run_at ON nuvom_queue (state, run_at);
CREATE INDEX IF NOT EXISTS nuvom_queue_lease ON nuvom_queue (lease_expires_at) WHERE state = 'leased';
`;

const RESULTS = `
CREATE TABLE IF NOT EXISTS nuvom_results (
  id             TEXT    PRIMARY KEY,
  task_name      TEXT    NOT NULL,
  args           BLOB    NOT NULL,
  status         TEXT    NOT NULL,
  attempts       INTEGER NOT NULL,
  max_retries    INTEGER NOT NULL,
  retries_left   INTEGER NOT NULL,
  priority       INTEGER NOT NULL,
  tags           TEXT    NOT NULL,
  created_at     INTEGER NOT NULL,
  started_at     INTEGER,
  completed_at   INTEGER,
  next_run_at    INTEGER,
  result         BLOB,
  error          TEXT,
  timeout_secs   REAL    NOT NULL,
  timeout_policy TEXT    NOT NULL,
  worker_id      TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nuvom_results_status ON nuvom_results (status, created_at, id);
CREATE INDEX IF NOT EXISTS nuvom_results_task ON nuvom_results (task_name, created_at, id);
CREATE INDEX IF NOT EXISTS nuvom_results_created ON nuvom_results (created_at, id);
CREATE INDEX IF NOT EXISTS nuvom_results_completed ON nuvom_results (completed_at) WHERE completed_at IS NOT NULL;
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

const PARTS: Record<SchemaPart, string> = { queue: QUEUE, results: RESULTS, schedules: SCHEDULES };

/*
 * Columns added after v1, as ALTER TABLE ... ADD COLUMN (nullable, no default to fill: SQLite
 * changes only the table's definition, never rewrites its rows). Applied by what the table lacks,
 * not by user_version alone: queue and results may share a file that one part already stamped 2
 * while the other's table is still v1.
 */
const ADDED: Record<SchemaPart, Array<[table: string, column: string, type: string]>> = {
  queue: [['nuvom_queue', 'queue_name', 'TEXT'], ['nuvom_queue', 'dedupe_key', 'TEXT'], ['nuvom_queue', 'parent_id', 'TEXT']],
  results: [
    ['nuvom_results', 'history', 'TEXT'], ['nuvom_results', 'queue_name', 'TEXT'], ['nuvom_results', 'dedupe_key', 'TEXT'],
    ['nuvom_results', 'parent_id', 'TEXT'], ['nuvom_results', 'progress', 'TEXT'],
  ],
  schedules: [],
};

function addColumns(db: Database.Database, part: SchemaPart): void {
  const known = new Map<string, Set<string>>();
  for (const [table, column, type] of ADDED[part]) {
    let cols = known.get(table);
    if (!cols) {
      cols = new Set((db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name));
      known.set(table, cols);
    }
    if (!cols.has(column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

/**
 * Creates `part`'s tables if missing, migrates them to SCHEMA_VERSION and stamps it, all in one
 * IMMEDIATE transaction (two processes opening a v1 file at once migrate it once); refuses a file
 * from a newer nuvom.
 */
export function ensureSchema(db: Database.Database, part: SchemaPart): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new NuvomError('NUVOM_E_STORAGE', `SQLite file ${db.name} has schema version ${version}, newer than this nuvom understands (${SCHEMA_VERSION}); upgrade nuvom or point NUVOM_SQLITE_PATH at another file`, { plugin: 'nuvom-sqlite' });
    }
    db.exec(PARTS[part]);
    addColumns(db, part);
    if (part === 'results') ensureCounts(db); // counters kept by triggers (counts.ts)
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
