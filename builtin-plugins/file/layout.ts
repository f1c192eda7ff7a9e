/**
 * The directories of one file queue and the lookups that need a fresh listing rather than the
 * claim snapshot: where a job is now, who holds which lease, and the id markers that refuse
 * duplicates across processes (created with O_EXCL, removed when the job leaves the queue).
 * Must never: trust a marker alone; a marker with no job file beside it is checked for staleness.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../sdk/plugin.ts';
import { errno, listDir, storageError, tryUnlink } from './fsutil.ts';
import type { Entry } from './listing.ts';
import { parseName } from './names.ts';

/** A marker older than this with no job file beside it is left over from a crash. */
const STALE_MARKER_MS = 10_000;
/** Temp files older than this are left over from a crashed enqueue. */
const STALE_TEMP_MS = 3_600_000;

export class QueueDirs {
  readonly root: string;
  readonly ready: string;
  readonly leased: string;
  readonly ids: string;
  readonly flags: string;
  readonly tmp: string;
  readonly corrupt: string;

  constructor(dir: string, private readonly logger: Logger) {
    this.root = path.resolve(dir);
    this.ready = path.join(this.root, 'ready');
    this.leased = path.join(this.root, 'leased');
    this.ids = path.join(this.root, 'ids');
    this.flags = path.join(this.root, 'cancel');
    this.tmp = path.join(this.root, 'tmp');
    this.corrupt = path.join(this.root, '.corrupt');
    try {
      for (const d of [this.ready, this.leased, this.ids, this.flags, this.tmp]) fs.mkdirSync(d, { recursive: true });
    } catch (err) {
      throw storageError(`creating the file queue directory ${this.root}`, err);
    }
    this.sweepTemp();
  }

  /** A fresh look at leased/, by job key. Small: only in-flight jobs live there. */
  leasedByKey(): Map<string, Entry[]> {
    const byKey = new Map<string, Entry[]>();
    for (const name of listDir(this.leased)) {
      const job = parseName(name);
      if (!job?.lease) continue;
      const list = byKey.get(job.key);
      if (list) list.push({ name, job });
      else byKey.set(job.key, [{ name, job }]);
    }
    return byKey;
  }

  /** Where the job with this key is now (fresh listings), or null. */
  find(key: string): { where: 'ready' | 'leased'; entry: Entry } | null {
    const readySuffix = `-${key}.job`;
    for (const name of listDir(this.ready)) {
      if (!name.endsWith(readySuffix)) continue;
      const job = parseName(name);
      if (job && !job.lease && job.key === key) return { where: 'ready', entry: { name, job } };
    }
    const leasedInfix = `-${key}~`;
    for (const name of listDir(this.leased)) {
      if (!name.includes(leasedInfix)) continue;
      const job = parseName(name);
      if (job?.lease && job.key === key) return { where: 'leased', entry: { name, job } };
    }
    return null;
  }

  /** Creates the id marker; false when the id is already queued. Clears a marker left by a crash. */
  createMarker(key: string): boolean {
    const marker = path.join(this.ids, key);
    for (let round = 0; round < 2; round++) {
      try {
        fs.closeSync(fs.openSync(marker, 'wx'));
        return true;
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
      }
      if (round > 0 || this.find(key)) return false;
      let age: number;
      try {
        age = Date.now() - fs.statSync(marker).mtimeMs;
      } catch {
        continue; // removed meanwhile: try again
      }
      if (age < STALE_MARKER_MS) return false; // maybe another process is enqueueing it right now
      this.logger.warn('file queue: removing an id marker left over from a crash', { marker });
      tryUnlink(marker);
    }
    return false;
  }

  /** The job left the queue: drop its id marker and any cancel flag. */
  forget(key: string): void {
    tryUnlink(path.join(this.flags, key));
    tryUnlink(path.join(this.ids, key));
  }

  private sweepTemp(): void {
    for (const name of listDir(this.tmp)) {
      try {
        const file = path.join(this.tmp, name);
        if (Date.now() - fs.statSync(file).mtimeMs > STALE_TEMP_MS) tryUnlink(file);
      } catch {
        // Another process swept it first.
      }
    }
  }
}
