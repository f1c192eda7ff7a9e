/**
 * A cross-process lock on one host: a lock file created with O_EXCL, holding
 * "<pid> <host> <ms> <process start ms>".
 * Held only around a synchronous critical section (microseconds for an append, longer for a purge),
 * never across an await, so waiting for it is a short async backoff.
 * A lock left by a crash is broken when its process is gone (same host; a reused pid is told apart
 * by the process start time, as containers restart with the same pid) or it is older than `staleMs`;
 * the break is a rename, so two waiters cannot both break one lock.
 * Must never: hold the lock across an await, or wait forever (NUVOM_E_STORAGE after `timeoutMs`).
 */
import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { processAlive } from '../../sdk/plugin.ts';
import { errno, storageError, tryUnlink } from './fsutil.ts';

/** When this process started (the same in its worker threads, which share the pid). */
const PROCESS_START = Math.round(Date.now() - process.uptime() * 1000);

export interface LockOptions {
  staleMs?: number;
  timeoutMs?: number;
}

export async function withFileLock<T>(lockPath: string, fn: () => T, opts: LockOptions = {}): Promise<T> {
  const staleMs = opts.staleMs ?? 30_000;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let pause = 1;
  for (;;) {
    if (tryAcquire(lockPath)) break;
    if (breakIfStale(lockPath, staleMs)) continue;
    if (Date.now() > deadline) {
      throw storageError(`waiting for the lock ${lockPath}`, new Error('another process held it too long'), { lockPath });
    }
    await new Promise<void>((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 20);
  }
  try {
    return fn();
  } finally {
    tryUnlink(lockPath);
  }
}

function tryAcquire(lockPath: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx');
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw storageError(`creating the lock ${lockPath}`, err);
  }
  try {
    fs.writeSync(fd, `${process.pid} ${os.hostname()} ${Date.now()} ${PROCESS_START}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}


/** Breaks the lock when its holder is certainly gone; true when the caller should try again. */
function breakIfStale(lockPath: string, staleMs: number): boolean {
  let content: string;
  let age: number;
  try {
    content = fs.readFileSync(lockPath, 'utf8');
    age = Date.now() - fs.statSync(lockPath).mtimeMs;
  } catch (err) {
    return errno(err) === 'ENOENT'; // released meanwhile: try again at once
  }
  const [pidText, host, , startText] = content.trim().split(' ');
  const pid = Number(pidText);
  const sameHost = host === os.hostname() && Number.isInteger(pid) && pid > 0;
  // Threads of this process share its pid; an earlier process with our pid started at another time.
  const holderGone = sameHost && (pid === process.pid ? Math.abs(Number(startText) - PROCESS_START) > 2_000 : !processAlive(pid));
  if (!holderGone && age < staleMs) return false;
  const aside = `${lockPath}.stale.${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch {
    return true; // someone else broke or released it
  }
  // If what we moved aside is not the lock we judged (it was replaced meanwhile), put it back.
  let moved = '';
  try {
    moved = fs.readFileSync(aside, 'utf8');
  } catch {
    // gone: nothing to restore
  }
  if (moved !== content) {
    try {
      fs.linkSync(aside, lockPath);
    } catch {
      // a newer lock took the name; ours was already released by its holder's finally
    }
  }
  tryUnlink(aside);
  return true;
}
