/**
 * The last storage error a worker hit, and the free space of the storage's volumes, for `nuvom
 * doctor`. A worker writes its storage errors (the pool's `storageError` / `storageRecovered` events)
 * to .nuvom/last-storage-error.json, one record, the last writer wins; doctor reads it.
 * Storage that fails cannot be asked to record its own failure, and a full disk refuses new bytes:
 * the file is written at its full size (RECORD_BYTES) when the worker starts, and every record after
 * that overwrites those bytes in place, which needs no new block.
 * Must never: throw into the worker (a record that cannot be written is logged at debug), or make
 * doctor create anything.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statfsSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { messageOf, processAlive, resolvePath, type NuvomConfig, type PluginContext, type StorageEvent } from '../../sdk/plugin.ts';
import { bytes, finding, type Finding } from './report.ts';

export const LAST_ERROR_FILE = '.nuvom/last-storage-error.json';
const RECORD_BYTES = 4096;
/** At most one write a second per worker; the last event of a burst is written when it ends. */
const WRITE_EVERY_MS = 1000;
/** An unrecovered error younger than this FAILs doctor; older, the worker may be gone: warn. */
const RECENT_MS = 15 * 60_000;
/** Less free space than this FAILs (SQLite cannot grow its WAL); less than WARN_BYTES warns. */
const FULL_BYTES = 1024 * 1024;
const WARN_BYTES = 100 * 1024 * 1024;

export interface LastStorageError {
  workerId: string;
  host: string;
  pid: number;
  op: StorageEvent['op'];
  code: string | null;
  message: string;
  /** This worker's run of failures: the first, the last, how many. */
  firstAt: string;
  lastAt: string;
  count: number;
  /** When a write worked again after the run (null while it lasts). */
  recoveredAt: string | null;
  /** The storage it was about (storageOf): a record of another configuration in this folder is not this one's. */
  storage?: string;
}

/** Settings that say where a backend's data is (not how it is reached: a pool size, a migrate switch). */
const WHERE = /(?:Path|Url|Dir|Schema|Database|File)$/;

/**
 * The storage a configuration points at, as a short fingerprint (no setting's value, so no password,
 * is written): its queue and result backends and the settings named after them that say where its
 * data is (sqlitePath, postgresUrl, postgresSchema, fileQueueDir...), as plugins name theirs. A worker
 * run with another pool size or migrate setting writes to the same storage, and its errors count.
 */
export function storageOf(config: NuvomConfig): string {
  const c = config as unknown as Record<string, unknown>;
  const backends = [String(c.queueBackend), String(c.resultBackend)];
  const own = Object.keys(c).filter((k) => WHERE.test(k) && backends.some((b) => b && k.startsWith(b))).sort().map((k) => `${k}=${JSON.stringify(c[k])}`);
  return `${backends.join('/')} ${createHash('sha256').update(own.join('\n')).digest('hex').slice(0, 12)}`;
}

function lastErrorPath(config: NuvomConfig): string {
  return resolvePath(config, LAST_ERROR_FILE);
}

/** Writes a record over the file's first RECORD_BYTES, padded with spaces (valid JSON whitespace). */
function overwrite(file: string, rec: LastStorageError): void {
  let text = JSON.stringify(rec);
  if (text.length > RECORD_BYTES - 1) text = JSON.stringify({ ...rec, message: rec.message.slice(0, RECORD_BYTES / 2) });
  const buf = Buffer.alloc(RECORD_BYTES, 0x20);
  buf.write(text, 0, 'utf8');
  buf[RECORD_BYTES - 1] = 0x0a;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, buf, 0, RECORD_BYTES, 0);
  } finally {
    closeSync(fd);
  }
}

/** The worker side: taps the pool's storage events in every process that runs a worker. */
export function recordStorageErrors(ctx: PluginContext, name: string): void {
  // Backends that live and die with the process have nothing on a volume to report.
  if (ctx.healthOf('queue')?.inProcess && ctx.healthOf('resultStore')?.inProcess) return;
  const file = lastErrorPath(ctx.config);
  const runs = new Map<string, { rec: LastStorageError; writtenAt: number; timer?: NodeJS.Timeout }>();
  let ready = false;
  const write = (run: { rec: LastStorageError; writtenAt: number; timer?: NodeJS.Timeout }) => {
    clearTimeout(run.timer);
    run.timer = undefined;
    run.writtenAt = Date.now();
    if (!ready) return;
    try {
      overwrite(file, run.rec);
    } catch (err) {
      ctx.logger.debug(`could not record the storage error in ${file}: ${messageOf(err)}`);
    }
  };
  ctx.hooks.workerStarted.tap(name, () => {
    // Reserve the record's bytes now, while there is room (an existing record is kept for doctor).
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const fd = openSync(file, existsSync(file) ? 'r+' : 'wx');
      try {
        if (statSync(file).size < RECORD_BYTES) writeSync(fd, Buffer.alloc(RECORD_BYTES - statSync(file).size, 0x20), 0, undefined, statSync(file).size);
      } finally {
        closeSync(fd);
      }
      ready = true;
    } catch (err) {
      ctx.logger.debug(`could not reserve ${file} for storage errors: ${messageOf(err)}`);
    }
  });
  ctx.hooks.storageError.tap(name, (e: StorageEvent) => {
    const at = new Date(e.at).toISOString();
    let run = runs.get(e.workerId);
    if (!run || run.rec.recoveredAt) {
      run = { rec: { workerId: e.workerId, host: hostname(), pid: process.pid, op: e.op, code: e.code ?? null, message: e.message ?? '', firstAt: at, lastAt: at, count: 0, recoveredAt: null, storage: storageOf(ctx.config) }, writtenAt: 0 };
      runs.set(e.workerId, run);
    }
    Object.assign(run.rec, { op: e.op, code: e.code ?? null, message: e.message ?? '', lastAt: at, count: run.rec.count + 1 });
    const wait = run.writtenAt + WRITE_EVERY_MS - Date.now();
    if (wait <= 0) write(run);
    else if (!run.timer) {
      const r = run;
      r.timer = setTimeout(() => write(r), wait);
      r.timer.unref();
    }
  });
  ctx.hooks.storageRecovered.tap(name, (e: StorageEvent) => {
    const run = runs.get(e.workerId);
    if (!run || run.rec.recoveredAt) return;
    run.rec.recoveredAt = new Date(e.at).toISOString();
    write(run);
  });
}

function isRecord(v: unknown): v is LastStorageError {
  const r = v as LastStorageError;
  return !!r && typeof r === 'object' && typeof r.message === 'string' && typeof r.lastAt === 'string' && typeof r.count === 'number';
}

/** Doctor: the last storage error a worker recorded, and whether storage worked again since. */
export function checkLastStorageError(config: NuvomConfig, now = Date.now()): Finding {
  const file = lastErrorPath(config);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return finding('storage-errors', 'ok', 'no worker has recorded a storage error', undefined, { path: file });
  }
  if (!text.trim()) return finding('storage-errors', 'ok', 'no worker has recorded a storage error', undefined, { path: file });
  let rec: unknown;
  try { rec = JSON.parse(text); } catch { rec = null; }
  if (!isRecord(rec)) return finding('storage-errors', 'warn', `${file} is not a storage-error record`, `delete it; workers write it again on their next storage error`, { path: file });
  const what = `worker ${rec.workerId} (pid ${rec.pid}) failed to ${rec.op === 'record' ? 'record outcomes' : rec.op === 'renew' ? 'renew leases' : 'claim jobs'}: ${rec.message}${rec.code ? ` (${rec.code})` : ''}; ${rec.count} time(s) from ${rec.firstAt} to ${rec.lastAt}`;
  // A database's "full" code (such as SQLITE_FULL, DISK_FULL) or the system's.
  const full = /(^|_)FULL$|ENOSPC|EDQUOT/.test(rec.code ?? '') || /disk is full|no space left/i.test(rec.message);
  const fix = full
    ? 'free space on the storage\'s volume (see storage-space) or move the database to a larger one; the worker goes on by itself once writes work'
    : 'read the worker\'s log around that time; the worker retries by itself, and doctor shows when a write worked again';
  const data = { path: file, ...rec };
  // Written for another configuration sharing this folder (another schema, another database file).
  if (rec.storage !== undefined && rec.storage !== storageOf(config)) {
    return finding('storage-errors', 'ok', `no storage error recorded for this configuration's storage (the last one in ${file} is another's: ${rec.storage.split(' ')[0]}, ${rec.lastAt})`, undefined, data);
  }
  if (rec.recoveredAt) return finding('storage-errors', 'ok', `the last storage error is over: ${what}; writes worked again at ${rec.recoveredAt}`, undefined, data);
  // A worker of this host that has exited cannot report a recovery (a `--burst` run, one stopped or
  // restarted): its error is history, not the storage's state now.
  if (rec.host === hostname() && !processAlive(rec.pid)) {
    return finding('storage-errors', 'warn', `${what}; that worker has exited, so no recovery could be recorded`,
      `if workers run fine now, the error is over: delete ${file}; else read that worker's log around ${rec.lastAt}`, data);
  }
  const age = now - Date.parse(rec.lastAt);
  if (age > RECENT_MS) return finding('storage-errors', 'warn', `${what}; no worker reported since (it may have stopped)`, fix, data);
  return finding('storage-errors', 'FAIL', what, fix, data);
}

type Folder = { path: string; services: string[]; setting?: string };

/** Doctor: free space of each storage volume (statfs of the folders the storage checkers named). */
export function checkFreeSpace(folders: readonly Folder[]): Finding[] {
  const byDir = new Map<string, { services: string[]; settings: string[] }>();
  for (const f of folders) {
    const e = byDir.get(f.path) ?? { services: [], settings: [] };
    e.services.push(...f.services);
    if (f.setting) e.settings.push(f.setting);
    byDir.set(f.path, e);
  }
  const seen = new Map<string, Finding>();
  for (const [dir, { services, settings }] of byDir) {
    let st: { bavail: number; bsize: number; blocks: number };
    try {
      st = statfsSync(dir);
    } catch (err) {
      seen.set(dir, finding('storage-space', 'warn', `could not read the free space of ${dir}: ${messageOf(err)}`, 'check the folder with df'));
      continue;
    }
    const free = st.bavail * st.bsize;
    const size = st.blocks * st.bsize;
    const pct = size ? Math.round((free / size) * 1000) / 10 : 0;
    const detail = `${dir} (${[...new Set(services)].join(', ')}): ${bytes(free)} free of ${bytes(size)} (${pct}%)`;
    const data = { path: dir, freeBytes: free, sizeBytes: size };
    const move = settings.length ? ` (${[...new Set(settings)].join(', ')})` : '';
    if (free < FULL_BYTES) {
      seen.set(dir, finding('storage-space', 'FAIL', `${detail}: the volume is full; the storage cannot write (database or disk is full)`, `free space on that volume (old logs, backups), or move the storage to a larger one${move}; workers go on by themselves`, data));
    } else if (free < WARN_BYTES && pct < 10) {
      seen.set(dir, finding('storage-space', 'warn', `${detail}: little room left`, 'free space on that volume before it fills: writes then fail with "database or disk is full"', data));
    } else {
      seen.set(dir, finding('storage-space', 'ok', detail, undefined, data));
    }
  }
  return [...seen.values()];
}
