/**
 * Maintained counters beside nuvom_jobs (the record part: rows whose status is not NULL), so that stats() and the dashboard's overview read a few
 * hundred rows instead of every record (1,000,000 records: 13.9 s before, a few ms after):
 *   nuvom_results_counts (task_name, status, n): records per task and status;
 *   nuvom_results_done (minute, status, n): SUCCESS and FAILED records per minute of completed_at.
 * Triggers on nuvom_jobs keep them exact for every writer, an older nuvom or a hand-written SQL
 * statement included; `ensureCounts` creates them once and fills them from the table in the same
 * IMMEDIATE transaction as the schema (one full scan, the first time a file meets this version).
 * A row without a record part (status NULL: a queue entry alone, on split files) is not counted.
 * Must never: count in JavaScript what a trigger can count, or leave a counter behind a write.
 */
import type Database from 'better-sqlite3';

const DONE = (row: 'NEW' | 'OLD') => `${row}.status IN ('SUCCESS', 'FAILED') AND ${row}.completed_at IS NOT NULL`;
const MINUTE = (row: 'NEW' | 'OLD') => `CAST(${row}.completed_at / 60000 AS INTEGER)`;
const CHANGED = 'OLD.status IS NOT NEW.status OR OLD.task_name IS NOT NEW.task_name';
const DONE_CHANGED = 'OLD.status IS NOT NEW.status OR OLD.completed_at IS NOT NEW.completed_at';

// One trigger per counter and direction, each with its WHEN, so that a write runs only the
// statements it needs: a PENDING insert one upsert, a RUNNING update two, a SUCCESS update three.
const countUp = `INSERT INTO nuvom_results_counts (task_name, status, n) SELECT NEW.task_name, NEW.status, 1 WHERE NEW.status IS NOT NULL
    ON CONFLICT (task_name, status) DO UPDATE SET n = n + 1;`;
const countDown = 'UPDATE nuvom_results_counts SET n = n - 1 WHERE task_name = OLD.task_name AND status = OLD.status;';
const doneUp = `INSERT INTO nuvom_results_done (minute, status, n) VALUES (${MINUTE('NEW')}, NEW.status, 1)
    ON CONFLICT (minute, status) DO UPDATE SET n = n + 1;`;
// Rare (a purge, a retried FAILED job): empty minutes are dropped, so the table does not grow with purged history.
const doneDown = `UPDATE nuvom_results_done SET n = n - 1 WHERE minute = ${MINUTE('OLD')} AND status = OLD.status;
  DELETE FROM nuvom_results_done WHERE minute = ${MINUTE('OLD')} AND status = OLD.status AND n <= 0;`;

const COUNTS = `
DROP TABLE IF EXISTS nuvom_results_counts;
DROP TABLE IF EXISTS nuvom_results_done;
CREATE TABLE nuvom_results_counts (
  task_name TEXT    NOT NULL,
  status    TEXT    NOT NULL,
  n         INTEGER NOT NULL,
  PRIMARY KEY (task_name, status)
) WITHOUT ROWID;
CREATE TABLE nuvom_results_done (
  minute INTEGER NOT NULL,
  status TEXT    NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (minute, status)
) WITHOUT ROWID;
INSERT INTO nuvom_results_counts (task_name, status, n) SELECT task_name, status, COUNT(*) FROM nuvom_jobs WHERE status IS NOT NULL GROUP BY task_name, status;
INSERT INTO nuvom_results_done (minute, status, n)
  SELECT CAST(completed_at / 60000 AS INTEGER), status, COUNT(*) FROM nuvom_jobs
  WHERE status IN ('SUCCESS', 'FAILED') AND completed_at IS NOT NULL GROUP BY 1, 2;
CREATE TRIGGER nuvom_jobs_counts_insert AFTER INSERT ON nuvom_jobs WHEN NEW.status IS NOT NULL BEGIN ${countUp} END;
CREATE TRIGGER nuvom_jobs_counts_delete AFTER DELETE ON nuvom_jobs WHEN OLD.status IS NOT NULL BEGIN ${countDown} END;
CREATE TRIGGER nuvom_jobs_counts_update AFTER UPDATE OF status, task_name ON nuvom_jobs WHEN ${CHANGED}
  BEGIN ${countDown} ${countUp} END;
CREATE TRIGGER nuvom_jobs_done_insert AFTER INSERT ON nuvom_jobs WHEN ${DONE('NEW')} BEGIN ${doneUp} END;
CREATE TRIGGER nuvom_jobs_done_delete AFTER DELETE ON nuvom_jobs WHEN ${DONE('OLD')} BEGIN ${doneDown} END;
CREATE TRIGGER nuvom_jobs_done_update_old AFTER UPDATE OF status, completed_at ON nuvom_jobs WHEN (${DONE('OLD')}) AND (${DONE_CHANGED})
  BEGIN ${doneDown} END;
CREATE TRIGGER nuvom_jobs_done_update_new AFTER UPDATE OF status, completed_at ON nuvom_jobs WHEN (${DONE('NEW')}) AND (${DONE_CHANGED})
  BEGIN ${doneUp} END;
`;

/**
 * Creates and fills the counter tables and their triggers when nuvom_jobs has none; call inside
 * ensureSchema's transaction, after the migration to one row per job. Counter tables left by a v2
 * file (whose triggers went with nuvom_results) are rebuilt from nuvom_jobs.
 */
export function ensureCounts(db: Database.Database): void {
  const has = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'nuvom_jobs_counts_insert'`).get();
  if (!has) db.exec(COUNTS);
}

/** The queries over the counters (and, for run times, the task index), prepared once per connection. */
export const COUNTS_SQL = {
  byTaskStatus: `SELECT task_name, status, n FROM nuvom_results_counts WHERE n <> 0`,
  doneFrom: `SELECT COALESCE(SUM(n), 0) FROM nuvom_results_done WHERE minute >= @minute`,
  // The part of the first minute at or after `since`: at most one minute of completions, via the
  // completed_at index (`+status` keeps the planner off the status index, which reads every record).
  doneBetween: `SELECT COUNT(*) FROM nuvom_jobs WHERE completed_at >= @since AND completed_at < @until AND +status IN ('SUCCESS', 'FAILED')`,
  doneBuckets: `SELECT minute, status, n FROM nuvom_results_done WHERE minute >= @minute ORDER BY minute`,
  tasks: `SELECT task_name, SUM(n) AS n FROM nuvom_results_counts GROUP BY task_name ORDER BY n DESC LIMIT @limit`,
  // The completed among one task's newest @scan records, through (task_name, created_at, id): a task
  // whose newest records are all PENDING reads @scan rows, never all of its records.
  runTimes: `SELECT completed_at - started_at FROM (
               SELECT status, started_at, completed_at FROM nuvom_jobs INDEXED BY nuvom_jobs_task
               WHERE task_name = @task ORDER BY created_at DESC LIMIT @scan)
             WHERE status IN ('SUCCESS', 'FAILED') AND started_at IS NOT NULL AND completed_at IS NOT NULL LIMIT @limit`,
} as const;

export const MINUTE_MS = 60_000;
/** runTimes reads at most this many times `perTask` of a task's newest records. */
export const RUN_TIME_SCAN = 3;
