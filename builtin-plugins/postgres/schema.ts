/**
 * The PostgreSQL schema, as numbered migrations. Each runs once, in order, inside one transaction
 * holding a transaction-level advisory lock keyed on the schema name, so processes starting together
 * migrate once and the others wait, then find it done. A database migrated by a newer nuvom (a
 * version above LATEST) is refused: this nuvom would misread it.
 * One row per job (`jobs`): the queue entry (q_* columns, q_state NULL when not queued) and the
 * record (status NULL when none) live in the same row, so an enqueue is one INSERT and a job's
 * success is one UPDATE that stores the outcome and leaves the queue.
 * Must never: drop or rewrite data in a migration; edit a published migration (add a new one).
 */
import { NuvomError, messageOf, type Logger } from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './settings.ts';
import type { Queryable } from './db.ts';

const v1 = (s: string, schema: string) => `
CREATE TABLE ${s}.jobs (
  id               text PRIMARY KEY,
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  task_name        text   NOT NULL,
  args             bytea  NOT NULL,
  priority         int    NOT NULL,
  created_at       bigint NOT NULL,
  q_state          text   CHECK (q_state IN ('waiting', 'leased')),
  run_at           bigint,
  q_attempts       int,
  options          text,
  meta             text,
  worker_id        text,
  lease_expires_at bigint,
  cancel_requested boolean NOT NULL DEFAULT false,
  status           text,
  r_task_name      text,
  r_args           bytea,
  r_priority       int,
  r_created_at     bigint,
  attempts         int,
  max_retries      int,
  retries_left     int,
  tags             text,
  started_at       bigint,
  completed_at     bigint,
  next_run_at      bigint,
  result           bytea,
  error            text,
  timeout_secs     double precision,
  timeout_policy   text,
  r_worker_id      text,
  history          text
) WITH (fillfactor = 70);
CREATE INDEX jobs_claim ON ${s}.jobs (priority DESC, seq) WHERE q_state = 'waiting';
CREATE INDEX jobs_run_at ON ${s}.jobs (run_at) WHERE q_state = 'waiting';
CREATE INDEX jobs_lease ON ${s}.jobs (lease_expires_at) WHERE q_state = 'leased';
CREATE INDEX jobs_status ON ${s}.jobs (status, r_created_at, id) WHERE status IS NOT NULL;
CREATE INDEX jobs_task ON ${s}.jobs (r_task_name, r_created_at, id) WHERE status IS NOT NULL;
CREATE INDEX jobs_created ON ${s}.jobs (r_created_at, id) WHERE status IS NOT NULL;
CREATE TABLE ${s}.schedules (
  id          text PRIMARY KEY,
  task_name   text   NOT NULL,
  args        bytea  NOT NULL,
  priority    int    NOT NULL,
  options     text   NOT NULL,
  kind        text   NOT NULL,
  every_secs  double precision,
  cron        text,
  timezone    text,
  misfire     text   NOT NULL,
  next_run_at bigint,
  last_run_at bigint,
  status      text   NOT NULL,
  created_at  bigint NOT NULL
);
CREATE INDEX schedules_due ON ${s}.schedules (status, next_run_at);
CREATE TABLE ${s}.heartbeats (
  worker_id    text PRIMARY KEY,
  host         text   NOT NULL,
  pid          int    NOT NULL,
  threads      int    NOT NULL,
  busy_threads int    NOT NULL,
  jobs_per_sec double precision NOT NULL,
  started_at   bigint NOT NULL,
  last_beat_at bigint NOT NULL,
  period_ms    bigint NOT NULL
);
-- Fails the statement (so an enqueue batch is all or none, in one round trip) when fewer rows were written than asked.
CREATE FUNCTION ${s}.expect_rows(got bigint, want int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN IF got <> want THEN RAISE EXCEPTION 'nuvom: % of % job ids already queued', want - got, want USING ERRCODE = 'unique_violation'; END IF; RETURN got; END $$;
-- Any INSERT (an enqueue, from this library or the app's own transaction) wakes listening workers at commit.
CREATE FUNCTION ${s}.notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('${schema}_jobs', ''); RETURN NULL; END $$;
CREATE TRIGGER jobs_inserted AFTER INSERT ON ${s}.jobs FOR EACH STATEMENT EXECUTE FUNCTION ${s}.notify_jobs();
-- A record reaching a final status wakes result() waiters in every process (payload: the job id).
CREATE FUNCTION ${s}.notify_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('${schema}_done', NEW.id); RETURN NULL; END $$;
CREATE TRIGGER jobs_done AFTER INSERT OR UPDATE OF status ON ${s}.jobs FOR EACH ROW
  WHEN (NEW.status IN ('SUCCESS', 'FAILED', 'CANCELLED')) EXECUTE FUNCTION ${s}.notify_done();
`;

/*
 * v2, for the per-job cost of a claim and a settle (each a non-HOT update, which adds an entry to
 * every index whose predicate the new row meets; ~2.5 us of server CPU each):
 * - the record indexes leave RUNNING rows out, so a claim adds no record index entry (three
 *   before): a leased RUNNING row is found through jobs_lease, and jobs_running holds only the
 *   RUNNING rows outside the queue (a cleared queue, a put record), so a claim never writes it;
 * - no index on the creation time alone: a listing without a task reads each status's range of
 *   jobs_status (and jobs_running) in order and merges them, so an enqueue and a settle each add
 *   one entry fewer;
 * - a settle NOTIFYs its batch's finished ids itself (notify_done_ids: one NOTIFY per ~7,900 bytes
 *   of ids, one per line) instead of a plpgsql trigger call and a NOTIFY per row; the row trigger
 *   stays for every other writer of a final status (an INSERT, a put, an enqueue's upsert), told
 *   apart by the settle's mark: a leased row leaving the lease in the statement that sets its status.
 * Existing rows and their data are untouched: only indexes and triggers are replaced.
 */
const v2 = (s: string, schema: string) => `
DROP INDEX ${s}.jobs_status;
DROP INDEX ${s}.jobs_task;
DROP INDEX ${s}.jobs_created;
CREATE INDEX jobs_status ON ${s}.jobs (status, r_created_at, id) WHERE status <> 'RUNNING';
CREATE INDEX jobs_task ON ${s}.jobs (r_task_name, r_created_at, id) WHERE status <> 'RUNNING';
CREATE INDEX jobs_running ON ${s}.jobs (r_created_at, id) WHERE status = 'RUNNING' AND q_state IS DISTINCT FROM 'leased';
DROP TRIGGER jobs_done ON ${s}.jobs;
CREATE TRIGGER jobs_done_inserted AFTER INSERT ON ${s}.jobs FOR EACH ROW
  WHEN (NEW.status IN ('SUCCESS', 'FAILED', 'CANCELLED')) EXECUTE FUNCTION ${s}.notify_done();
CREATE TRIGGER jobs_done AFTER UPDATE OF status ON ${s}.jobs FOR EACH ROW
  WHEN (NEW.status IN ('SUCCESS', 'FAILED', 'CANCELLED') AND (OLD.q_state IS DISTINCT FROM 'leased' OR NEW.q_state IS NOT DISTINCT FROM 'leased'))
  EXECUTE FUNCTION ${s}.notify_done();
-- A settle's finished ids as few NOTIFYs as fit (payloads under PostgreSQL's 8,000 bytes), one id a line.
CREATE FUNCTION ${s}.notify_done_ids(ids text[]) RETURNS int LANGUAGE plpgsql AS $$
DECLARE chunk text := NULL; one text; sent int := 0;
BEGIN
  FOREACH one IN ARRAY COALESCE(ids, '{}') LOOP
    IF chunk IS NOT NULL AND octet_length(chunk) + octet_length(one) >= 7900 THEN
      PERFORM pg_notify('${schema}_done', chunk); sent := sent + 1; chunk := NULL;
    END IF;
    chunk := CASE WHEN chunk IS NULL THEN one ELSE chunk || E'\\n' || one END;
  END LOOP;
  IF chunk IS NOT NULL THEN PERFORM pg_notify('${schema}_done', chunk); sent := sent + 1; END IF;
  RETURN sent;
END $$;
`;

/** Index = version - 1. Never edit a published entry: append. */
const MIGRATIONS: Array<(s: string, schema: string) => string> = [v1, v2];

export const LATEST = MIGRATIONS.length;

/** @internal */
export interface MigrateOptions {
  /** false: only check, and refuse an unmigrated schema (NUVOM_POSTGRES_MIGRATE=false). */
  apply: boolean;
  target: string;
  logger?: Logger;
  /** Stop at this version instead of LATEST (tests that upgrade an older schema make it with this). */
  upTo?: number;
}

/** PostgreSQL's codes for a missing table (42P01) and a missing schema (3F000). */
export const NO_SUCH_RELATION = new Set(['42P01', '3F000']);

/**
 * The schema's version: 0 when it has no nuvom tables yet. One round trip (it is on the path to a
 * worker's first claim): the version is read directly, and a missing migrations table or schema is
 * version 0.
 * @internal
 */
export async function schemaVersion(c: Queryable, schema: string): Promise<number> {
  try {
    const v = await c.query<{ v: number | null }>(`SELECT max(version) AS v FROM "${schema}".migrations`);
    return Number(v.rows[0]?.v ?? 0);
  } catch (err) {
    if (NO_SUCH_RELATION.has((err as { code?: string }).code ?? '')) return 0;
    throw err;
  }
}

/**
 * Brings `schema` to LATEST (or checks it, with apply false). Returns the versions applied.
 * Refuses a newer schema with NUVOM_E_STORAGE_SCHEMA.
 * @internal
 */
export async function migrate(c: Queryable, schema: string, opts: MigrateOptions): Promise<number[]> {
  const s = `"${schema}"`;
  const latest = opts.upTo ?? LATEST;
  const refuseNewer = (v: number) => new NuvomError('NUVOM_E_STORAGE_SCHEMA', `PostgreSQL schema ${schema} at ${opts.target} is at version ${v}, newer than this nuvom understands (${LATEST}); upgrade nuvom, or set NUVOM_POSTGRES_SCHEMA to another schema`, { plugin: PLUGIN_NAME, details: { version: v, latest: LATEST } });
  let current: number;
  try {
    current = await schemaVersion(c, schema);
  } catch (err) {
    // The schema exists (a missing one reads as version 0), but this user may not read it.
    if ((err as { code?: string }).code === '42501') {
      throw new NuvomError('NUVOM_E_STORAGE_PERMISSION', `reading the nuvom schema ${schema} at ${opts.target}: permission denied (${messageOf(err)}); as its owner, GRANT USAGE ON SCHEMA ${schema} and SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} to this user, or connect as the owner`, { plugin: PLUGIN_NAME, cause: err });
    }
    throw wrap(err, opts.target);
  }
  if (current > LATEST) throw refuseNewer(current);
  if (current >= latest) return [];
  if (!opts.apply) {
    throw new NuvomError('NUVOM_E_STORAGE_SCHEMA', `PostgreSQL schema ${schema} at ${opts.target} is at version ${current}, this nuvom needs ${LATEST}; run \`nuvom migrate\` (or set NUVOM_POSTGRES_MIGRATE=true)`, { plugin: PLUGIN_NAME, details: { version: current, latest: LATEST } });
  }
  const applied: number[] = [];
  try {
    await c.query('BEGIN');
    // Concurrent starts: one migrates, the others wait here and then find nothing left to do.
    await c.query(`SELECT pg_advisory_xact_lock(hashtext('nuvom.migrate'), hashtext($1))`, [schema]);
    // Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
    // exists, and a schema made for the app by its owner (a user without that privilege) is common.
    const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${s}`);
    await c.query(`CREATE TABLE IF NOT EXISTS ${s}.migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const again = await schemaVersion(c, schema);
    if (again > LATEST) throw refuseNewer(again);
    for (let v = again + 1; v <= latest; v++) {
      await c.query(MIGRATIONS[v - 1](s, schema));
      await c.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [v]);
      applied.push(v);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw wrap(err, opts.target);
  }
  if (applied.length) opts.logger?.info(`PostgreSQL schema ${schema} migrated to version ${latest} (applied ${applied.join(', ')})`);
  return applied;
}

function wrap(err: unknown, target: string): NuvomError {
  if (err instanceof NuvomError) return err;
  const code = (err as { code?: string }).code;
  if (code === '42501') {
    return new NuvomError('NUVOM_E_STORAGE_PERMISSION', `migrating the nuvom schema at ${target}: permission denied (${messageOf(err)}); run \`nuvom migrate\` as a user with CREATE on the database (or as the owner of an existing schema of that name), or GRANT CREATE ON DATABASE to this user`, { plugin: PLUGIN_NAME, cause: err });
  }
  if (code === '42P07' || code === '42703' || code === '42710') {
    // A table (jobs, migrations) or function of another application in the schema nuvom was told to use.
    return new NuvomError('NUVOM_E_STORAGE_SCHEMA', `migrating the nuvom schema at ${target}: ${messageOf(err)}: the schema holds tables of something else (nuvom names its own jobs, schedules, heartbeats, migrations); set NUVOM_POSTGRES_SCHEMA to a schema for nuvom alone (the default is nuvom)`, { plugin: PLUGIN_NAME, cause: err, details: { pgCode: code } });
  }
  if (code === '25006') {
    return new NuvomError('NUVOM_E_STORAGE_PERMISSION', `migrating the nuvom schema at ${target}: ${messageOf(err)}: the connection is read-only (a standby or replica, or default_transaction_read_only for the user); run \`nuvom migrate\` against the primary, with a user that may write`, { plugin: PLUGIN_NAME, cause: err });
  }
  return new NuvomError('NUVOM_E_STORAGE', `migrating the nuvom schema at ${target}: ${messageOf(err)}`, { plugin: PLUGIN_NAME, cause: err, details: { pgCode: code } });
}
