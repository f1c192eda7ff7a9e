/**
 * The SQLite plugin's storage health (StorageHealth, nuvom/plugin), for `nuvom doctor` and the
 * read-only commands: each file in use exists and is readable and writable (with its folder, for the
 * -wal and -shm files), passes integrity_check, is in WAL mode with a WAL that checkpoints keep small,
 * and how many of its jobs hold an expired lease. Opens each file with its own short-lived read
 * connection (fileMustExist), closed before returning.
 * Must never: create, repair or delete anything; build the plugin's services (that creates the file).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { sqliteDriver } from './driver.ts';
import { messageOf, type HealthFinding, type HealthLevel, type StorageHealth, type StorageHealthReport, type StorageToken } from '../../sdk/plugin.ts';

/** A WAL larger than this means checkpoints are starved (a reader that never lets go). */
const WAL_WARN_BYTES = 64 * 1024 * 1024;
const LABELS: Record<StorageToken, string> = { queue: 'queue', resultStore: 'results', scheduleStore: 'schedules' };

function finding(check: string, level: HealthLevel, detail: string, fix?: string, data?: Record<string, unknown>): HealthFinding {
  return { check, level, detail, ...(fix ? { fix } : {}), ...(data ? { data } : {}) };
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function writable(p: string): string | null {
  try {
    accessSync(p, constants.R_OK | constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? messageOf(err);
  }
}

/** The nearest existing folder of a path (the one a file not created yet would be made in). */
function nearestFolder(p: string): string {
  let dir = path.dirname(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** `paths`: the absolute file of each service (the queue's, and results' and schedules' one). */
export function sqliteHealth(paths: { queue: string; results: string }): StorageHealth {
  const fileOf = (s: StorageToken) => (s === 'queue' ? paths.queue : paths.results);
  return {
    locate: (service) => ({ path: fileOf(service), exists: existsSync(fileOf(service)), what: 'database', setting: 'NUVOM_SQLITE_PATH' }),
    health({ services, leaseSecs }): StorageHealthReport {
      const files = new Map<string, StorageToken[]>();
      for (const s of services) files.set(fileOf(s), [...(files.get(fileOf(s)) ?? []), s]);
      const findings: HealthFinding[] = [];
      let jobChecks: StorageHealthReport['jobChecks'];
      for (const [file, on] of files) {
        const found = checkFile(file, on.map((s) => LABELS[s]), leaseSecs);
        findings.push(...found);
        // A missing schedules-only file does not keep the job checks from reading the queue and results.
        if (!jobChecks && found.some((f) => f.data?.exists === false) && on.some((s) => s !== 'scheduleStore')) jobChecks = { skip: 'no job storage yet', level: 'ok' };
      }
      // Opening the services would create nuvom's tables (and switch the file to WAL) in a foreign file.
      if (!jobChecks && findings.some((f) => f.level === 'FAIL')) jobChecks = { skip: 'skipped: fix the storage problem above first', level: 'warn' };
      if (!jobChecks && findings.some((f) => f.check === 'sqlite-integrity' && Array.isArray(f.data?.tables) && (f.data.tables as string[]).length === 0)) {
        jobChecks = { skip: 'the SQLite file holds no nuvom tables yet: no jobs to check', level: 'ok' };
      }
      const folders = new Map<string, string[]>();
      for (const [file, on] of files) {
        const dir = nearestFolder(file);
        folders.set(dir, [...(folders.get(dir) ?? []), ...on.map((s) => (s === 'queue' ? 'queue' : 'results'))]);
      }
      return { findings, jobChecks, folders: [...folders].map(([p, s]) => ({ path: p, services: [...new Set(s)], setting: 'NUVOM_SQLITE_PATH' })) };
    },
  };
}

function checkFile(file: string, services: string[], leaseSecs: number): HealthFinding[] {
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
    db = new (sqliteDriver())(file, { fileMustExist: true, timeout: 5000 });
  } catch (err) {
    out.push(finding('sqlite-integrity', 'FAIL', `${file} could not be opened: ${messageOf(err)}`, 'check the file; nuvom never overwrites it'));
    return out;
  }
  try {
    out.push(...inspect(db, file, services, leaseSecs));
  } catch (err) {
    const notDb = /not a database|file is encrypted/i.test(messageOf(err));
    out.push(finding('sqlite-integrity', 'FAIL', notDb ? `${file} is not a SQLite database (${messageOf(err)})` : `${file} could not be read: ${messageOf(err)}`,
      `stop workers and move the file aside (nuvom then starts a new empty one); to salvage jobs from a damaged database: sqlite3 ${file} .recover | sqlite3 recovered.db`));
  } finally {
    db.close();
  }
  return out;
}

function inspect(db: Database.Database, file: string, services: string[], leaseSecs: number): HealthFinding[] {
  const out: HealthFinding[] = [];
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
      out.push(finding('sqlite-leases', 'warn', `${row.expired} job(s) hold an expired lease (the oldest expired ${ago}s ago; leases last ${leaseSecs}s): their worker died or stalled; ${counts}`,
        'nothing is lost: any running worker claims them again; if none runs, start one (nuvom runworker)', { ...row }));
    } else {
      out.push(finding('sqlite-leases', 'ok', `${counts}; no expired leases`, undefined, { ...row }));
    }
  }
  return out;
}
