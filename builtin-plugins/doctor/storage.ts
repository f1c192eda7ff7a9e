/**
 * Doctor checks of the storage files themselves: the SQLite file (exists, permissions, integrity, WAL
 * state, expired leases) and the file backend's directories (permissions, quarantined and leftover
 * files). Reads only; opens SQLite with its own short-lived connection, closed before returning.
 * Must never: create, repair or delete anything.
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { messageOf, resolvePath, type NuvomConfig } from '../../sdk/plugin.ts';
import { bytes, finding, type Finding } from './report.ts';

/** A WAL larger than this means checkpoints are starved (a reader that never lets go). */
const WAL_WARN_BYTES = 64 * 1024 * 1024;
const TEMP_STALE_MS = 3_600_000;

function writable(p: string): string | null {
  try {
    accessSync(p, constants.R_OK | constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? messageOf(err);
  }
}

/** The SQLite files the configuration uses, with the services on each. */
export function sqliteFiles(config: NuvomConfig): Map<string, string[]> {
  const files = new Map<string, string[]>();
  const add = (p: string, service: string) => files.set(p, [...(files.get(p) ?? []), service]);
  if (config.queueBackend === 'sqlite') add(resolvePath(config, config.sqliteQueuePath), 'queue');
  if (config.resultBackend === 'sqlite') add(resolvePath(config, config.sqliteResultPath), 'results');
  if (config.schedulerBackend === 'sqlite') add(resolvePath(config, config.sqliteResultPath), 'schedules');
  return files;
}

export function checkSqliteFile(file: string, services: string[], config: NuvomConfig): Finding[] {
  const label = `${file} (${services.join(', ')})`;
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return [finding('sqlite-file', 'FAIL', `${label} is not a regular file`, 'point NUVOM_SQLITE_PATH at a file, not a directory')];
    size = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return [finding('sqlite-file', 'warn', `${label} does not exist yet`, 'nothing to check: it is created by the first enqueue or worker; if you expected jobs here, check NUVOM_SQLITE_PATH and --cwd', { path: file, exists: false, services })];
    }
    return [finding('sqlite-file', 'FAIL', `${label} cannot be read: ${messageOf(err)}`, 'check the path and the permissions of its folders')];
  }
  const problems: string[] = [];
  const fileErr = writable(file);
  if (fileErr) problems.push(`the file is not readable and writable (${fileErr})`);
  const dirErr = writable(path.dirname(file));
  if (dirErr) problems.push(`its folder is not writable (${dirErr}); SQLite needs to create ${path.basename(file)}-wal and -shm beside it`);
  for (const side of ['-wal', '-shm']) {
    if (existsSync(file + side) && writable(file + side)) problems.push(`${path.basename(file)}${side} is not writable`);
  }
  if (problems.length) {
    return [finding('sqlite-file', 'FAIL', `${label}: ${problems.join('; ')}`, `run nuvom as the file's owner, or fix the permissions (chmod u+rw ${file} and its folder)`, { path: file })];
  }
  const out = [finding('sqlite-file', 'ok', `${label}: ${bytes(size)}, readable and writable`, undefined, { path: file, bytes: size })];
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 5000 });
  } catch (err) {
    out.push(finding('sqlite-integrity', 'FAIL', `${file} could not be opened: ${messageOf(err)}`, 'check the file; nuvom never overwrites it'));
    return out;
  }
  try {
    out.push(...inspect(db, file, services, config));
  } catch (err) {
    const notDb = /not a database|file is encrypted/i.test(messageOf(err));
    out.push(finding('sqlite-integrity', 'FAIL', notDb ? `${file} is not a SQLite database (${messageOf(err)})` : `${file} could not be read: ${messageOf(err)}`,
      `stop workers and move the file aside (nuvom then starts a new empty one); to salvage jobs from a damaged database: sqlite3 ${file} .recover | sqlite3 recovered.db`));
  } finally {
    db.close();
  }
  return out;
}

function inspect(db: Database.Database, file: string, services: string[], config: NuvomConfig): Finding[] {
  const out: Finding[] = [];
  const problems = db.prepare('PRAGMA integrity_check(20)').pluck().all() as string[];
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'nuvom_%'").pluck().all() as string[]);
  const version = db.pragma('user_version', { simple: true }) as number;
  if (problems.length === 1 && problems[0] === 'ok') {
    out.push(finding('sqlite-integrity', 'ok', `integrity_check ok; schema version ${version}; tables: ${[...tables].sort().join(', ') || 'none yet'}`, undefined, { schemaVersion: version, tables: [...tables].sort() }));
  } else {
    out.push(finding('sqlite-integrity', 'FAIL', `integrity_check found ${problems.length}${problems.length === 20 ? '+' : ''} problem(s): ${problems.slice(0, 2).join('; ')}`,
      `stop every worker and producer, back up ${file}, then salvage it (sqlite3 ${file} .recover | sqlite3 recovered.db) and point NUVOM_SQLITE_PATH at the result`, { problems }));
  }

  const mode = String(db.pragma('journal_mode', { simple: true }));
  const walBytes = existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0;
  if (mode !== 'wal') {
    out.push(finding('sqlite-wal', 'warn', `journal_mode is ${mode}, not wal`, 'nuvom switches the file to WAL when it opens it; if it stays otherwise, the file is read-only or on a network filesystem, where several processes must not share it', { journalMode: mode }));
  } else if (walBytes > WAL_WARN_BYTES) {
    out.push(finding('sqlite-wal', 'warn', `journal_mode=wal, but the WAL file is ${bytes(walBytes)}: checkpoints are not keeping up`,
      `a long-lived reader holds old pages: stop idle clients, or checkpoint by hand: sqlite3 ${file} "PRAGMA wal_checkpoint(TRUNCATE)"`, { journalMode: mode, walBytes }));
  } else {
    out.push(finding('sqlite-wal', 'ok', `journal_mode=wal, WAL file ${bytes(walBytes)}`, undefined, { journalMode: mode, walBytes }));
  }

  // nuvom_jobs since schema v3 (one row per job); a file not yet opened by this nuvom has nuvom_queue.
  const queueTable = tables.has('nuvom_jobs') ? 'nuvom_jobs' : tables.has('nuvom_queue') ? 'nuvom_queue' : null;
  if (services.includes('queue') && queueTable) {
    const now = Date.now();
    const row = db.prepare(`SELECT
        COUNT(*) FILTER (WHERE state IN ('waiting', 'ready') AND run_at <= @now) AS ready,
        COUNT(*) FILTER (WHERE state IN ('waiting', 'ready') AND run_at > @now) AS delayed,
        COUNT(*) FILTER (WHERE state = 'leased' AND lease_expires_at > @now) AS leased,
        COUNT(*) FILTER (WHERE state = 'leased' AND lease_expires_at <= @now) AS expired,
        MIN(CASE WHEN state = 'leased' AND lease_expires_at <= @now THEN lease_expires_at END) AS oldest
      FROM ${queueTable}`).get({ now }) as { ready: number; delayed: number; leased: number; expired: number; oldest: number | null };
    const counts = `${row.ready} ready, ${row.delayed} delayed, ${row.leased} leased`;
    if (row.expired > 0) {
      const ago = Math.round((now - (row.oldest ?? now)) / 1000);
      out.push(finding('sqlite-leases', 'warn', `${row.expired} job(s) hold an expired lease (the oldest expired ${ago}s ago; leases last ${config.visibilityTimeoutSecs}s): their worker died or stalled; ${counts}`,
        'nothing is lost: any running worker claims them again; if none runs, start one (nuvom runworker)', { ...row }));
    } else {
      out.push(finding('sqlite-leases', 'ok', `${counts}; no expired leases`, undefined, { ...row }));
    }
  }
  return out;
}

const QUEUE_SUBDIRS = ['ready', 'leased', 'ids', 'cancel', 'tmp'];

function listing(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function checkFileQueue(config: NuvomConfig): Finding[] {
  const dir = resolvePath(config, config.fileQueueDir);
  if (!existsSync(dir)) {
    return [finding('file-queue', 'warn', `${dir} does not exist yet`, 'nothing to check: it is created by the first enqueue or worker; if you expected jobs here, check NUVOM_FILE_QUEUE_DIR and --cwd', { path: dir, exists: false })];
  }
  const bad: string[] = [];
  for (const sub of ['.', ...QUEUE_SUBDIRS]) {
    const p = path.join(dir, sub);
    if (sub !== '.' && !existsSync(p)) continue;
    try {
      accessSync(p, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      bad.push(`${sub === '.' ? dir : sub + '/'} (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
    }
  }
  if (bad.length) {
    return [finding('file-queue', 'FAIL', `not readable, writable and searchable: ${bad.join(', ')}`, `run nuvom as the owner of ${dir}, or chmod -R u+rwX ${dir}`, { path: dir })];
  }
  const out = [finding('file-queue', 'ok', `${dir}: ${listing(path.join(dir, 'ready')).length} waiting, ${listing(path.join(dir, 'leased')).length} leased; permissions ok`, undefined, { path: dir })];
  const quarantined = listing(path.join(dir, '.corrupt')).filter((n) => !n.endsWith('.reason'));
  if (quarantined.length) {
    out.push(finding('file-quarantine', 'warn', `${quarantined.length} job file(s) were quarantined in ${path.join(dir, '.corrupt')} (they never run)`,
      'read the .reason file beside each; re-enqueue the jobs you still need, then delete them', { count: quarantined.length }));
  } else {
    out.push(finding('file-quarantine', 'ok', 'no quarantined job files', undefined, { count: 0 }));
  }
  const now = Date.now();
  const stale = listing(path.join(dir, 'tmp')).filter((n) => {
    try { return now - statSync(path.join(dir, 'tmp', n)).mtimeMs > TEMP_STALE_MS; } catch { return false; }
  });
  if (stale.length) {
    out.push(finding('file-temp', 'warn', `${stale.length} temp file(s) older than an hour in ${path.join(dir, 'tmp')}: enqueues that crashed before their rename`, 'they were never enqueued; safe to delete (a worker also sweeps them at start)', { count: stale.length }));
  }
  return out;
}

export function checkFileResults(config: NuvomConfig): Finding[] {
  const dir = resolvePath(config, config.fileResultDir);
  if (!existsSync(dir)) {
    return [finding('file-results', 'warn', `${dir} does not exist yet`, 'nothing to check: it is created by the first enqueue or worker; check NUVOM_FILE_RESULT_DIR and --cwd', { path: dir, exists: false })];
  }
  const bad = [dir, ...listing(dir).filter((n) => n.endsWith('.jsonl')).map((n) => path.join(dir, n))].filter((p) => writable(p));
  if (bad.length) return [finding('file-results', 'FAIL', `not readable and writable: ${bad.join(', ')}`, `run nuvom as their owner, or chmod -R u+rwX ${dir}`, { path: dir })];
  const log = path.join(dir, 'results.jsonl');
  return [finding('file-results', 'ok', `${dir}: results.jsonl ${existsSync(log) ? bytes(statSync(log).size) : 'not written yet'}; permissions ok`, undefined, { path: dir })];
}
