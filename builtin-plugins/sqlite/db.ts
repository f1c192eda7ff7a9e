/**
 * Opening SQLite files for the queue, result store and schedule store: one better-sqlite3 connection per
 * file per process, shared by every service on that file and closed when the last one lets go (the
 * original kept one module-global connection per thread, so a second file silently read the first).
 * Also the bounded retry for SQLITE_BUSY and the translation of driver errors into NuvomError.
 * Must never: swallow an error after a failed write (the caller must learn that nothing was written).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { NuvomError, isNuvomError, messageOf, type Logger } from '../../sdk/plugin.ts';
import { PLUGIN_NAME, sqliteDriver } from './driver.ts';
import { ensureSchema, type SchemaPart } from './schema.ts';
import { ChangeNotifier, DEFAULT_POLL_MS } from './watch.ts';

export type Db = Database.Database;
export type Statement = Database.Statement;
export type Transaction<F extends (...args: never[]) => unknown> = Database.Transaction<F>;

export { PLUGIN_NAME, sqliteDriver };

/** A connection shared by the services on one file. */
export interface SharedDb {
  readonly db: Db;
  readonly path: string;
  /** Wakes queue subscribers in this process and watches for other processes' commits. */
  readonly notifier: ChangeNotifier;
}

/** One service's hold on a shared connection; `release()` is idempotent. */
export interface DbLease {
  readonly shared: SharedDb;
  readonly db: Db;
  release(): void;
}

interface CacheEntry extends SharedDb {
  refs: number;
}

const cache = new Map<string, CacheEntry>();

function open(file: string, logger?: Logger): CacheEntry {
  let db: Db;
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    db = new (sqliteDriver())(file);
  } catch (err) {
    throw new NuvomError('NUVOM_E_STORAGE', `could not open the SQLite file ${file}: ${messageOf(err)}; check the path (NUVOM_SQLITE_PATH) and its permissions`, { plugin: PLUGIN_NAME, cause: err });
  }
  try {
    // busy_timeout first, so that switching to WAL waits for a concurrent opener instead of failing.
    db.pragma('busy_timeout = 5000');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal' && file !== ':memory:') {
      logger?.warn(`SQLite file ${file} could not switch to WAL (journal_mode=${String(mode)}); several processes will contend more`);
    }
    // NORMAL is durable against application crashes in WAL mode; only an OS crash may lose the last commits.
    db.pragma('synchronous = NORMAL');
    // A bigger page cache and memory-mapped reads: the job tables are hot and random-keyed, and the
    // 2 MB default cache made every record update re-read pages from the OS.
    db.pragma('cache_size = -65536');
    db.pragma('mmap_size = 268435456');
    db.pragma('temp_store = MEMORY');
  } catch (err) {
    db.close();
    throw storageError(`configuring ${file}`, err);
  }
  return { db, path: file, refs: 0, notifier: new ChangeNotifier(db, file, DEFAULT_POLL_MS, logger) };
}

/**
 * Takes a hold on the connection for `file` (absolute path), opening it and creating `part`'s tables
 * on first use.
 */
export function acquireDb(file: string, part: SchemaPart, logger?: Logger): DbLease {
  const key = file === ':memory:' ? `:memory:#${Math.random()}` : path.resolve(file);
  let entry = cache.get(key);
  if (!entry) {
    entry = open(key.startsWith(':memory:') ? ':memory:' : key, logger);
    cache.set(key, entry);
  }
  try {
    ensureSchema(entry.db, part);
  } catch (err) {
    if (entry.refs === 0) {
      cache.delete(key);
      entry.notifier.close();
      entry.db.close();
    }
    throw isNuvomError(err) ? err : storageError(`creating the ${part} tables in ${file}`, err);
  }
  entry.refs += 1;
  const held = entry;
  let released = false;
  return {
    shared: held,
    db: held.db,
    release() {
      if (released) return;
      released = true;
      held.refs -= 1;
      if (held.refs === 0) {
        cache.delete(key);
        held.notifier.close();
        held.db.close();
      }
    },
  };
}

/** Files with a live connection in this process (tests check that close() lets go). */
export function openFiles(): string[] {
  return [...cache.keys()];
}

function sqliteCode(err: unknown): string {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string' ? (err as Error & { code: string }).code : '';
}

export function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

export function isUniqueViolation(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function storageError(what: string, err: unknown): NuvomError {
  return new NuvomError('NUVOM_E_STORAGE', `SQLite ${what} failed: ${messageOf(err)}`, { plugin: PLUGIN_NAME, cause: err, details: { sqliteCode: sqliteCode(err) } });
}

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts?: number;
  /** First back-off; doubles each time, with jitter. */
  baseDelayMs?: number;
}

/**
 * Runs `fn` (a whole transaction) and, when SQLite reports the database busy even after busy_timeout,
 * tries again a bounded number of times. Each try is all-or-nothing, so a retry never duplicates or
 * drops a write; when the tries run out the caller gets NUVOM_E_STORAGE and knows nothing was written.
 * NuvomErrors thrown by `fn` (duplicate id, bad input) pass through untouched and are never retried.
 */
export async function withBusyRetry<T>(what: string, fn: () => T, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  let wait = opts.baseDelayMs ?? 20;
  for (let i = 1; ; i += 1) {
    try {
      return fn();
    } catch (err) {
      if (isNuvomError(err)) throw err;
      if (!isBusy(err)) throw storageError(what, err);
      if (i >= attempts) {
        throw new NuvomError('NUVOM_E_STORAGE', `SQLite ${what} failed: the database stayed locked by another connection through ${attempts} tries of 5 s each; nothing was written, try again (a long-running transaction elsewhere is holding the file)`, { plugin: PLUGIN_NAME, cause: err });
      }
      await delay(wait + Math.floor(Math.random() * wait));
      wait *= 2;
    }
  }
}

/** Runs a read-only or single-statement operation, translating driver errors. */
export function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isNuvomError(err)) throw err;
    throw storageError(what, err);
  }
}
