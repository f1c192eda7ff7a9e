/**
 * The file queue: one file per job in a directory that several processes on one host may share.
 *
 *   <dir>/ready/     waiting jobs (ready or delayed), named so a sorted listing is claim order
 *   <dir>/leased/    claimed jobs; the name carries the lease expiry and the holder's tag
 *   <dir>/ids/       one empty marker per queued id: O_EXCL creation refuses duplicates
 *   <dir>/cancel/    one flag per job whose cancellation was requested while it ran
 *   <dir>/tmp/       files being written; renamed into ready/ only once complete and fsynced
 *   <dir>/.corrupt/  quarantined files, each with a `.reason` text file beside it
 *
 * Every state change is one atomic rename (names.ts), so two processes never both win a job: the
 * loser's rename fails with ENOENT and it moves on. A claimed job whose lease runs out is claimed
 * again by renaming it within leased/. Files that cannot be read are quarantined, never deleted.
 * Must never: make a partially written job file visible in ready/, or use a job id as a raw path.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  NuvomError, checkLeaseMs, checkWorkerId, claimArgs, duplicateJob, type CancelOutcome, type ClaimOptions, type ClaimedJob, type Logger, type Queue, type QueueCounts,
  type QueuedJob, type RenewResult,
} from '../../sdk/plugin.ts';
import { decodeJob, encodeJob, validateJob } from './codec.ts';
import {
  PLUGIN_NAME, errno, fsyncDir, listDir, quarantine, storageError, tempName, tryRename, tryUnlink, writeSynced,
  writeSyncedMany,
} from './fsutil.ts';
import { QueueDirs } from './layout.ts';
import { Listing } from './listing.ts';
import { formatName, keyOfId, nextSeq, orderKey, tagOfWorker, type JobName } from './names.ts';
import { DirNotifier } from './notify.ts';

export interface FileQueueOptions {
  /** How long a directory snapshot serves claims before it is re-read (default 200 ms). */
  listingTtlMs?: number;
}

export class FileQueue implements Queue {
  readonly dir: string;
  private readonly d: QueueDirs;
  private readonly listing: Listing;
  private readonly notifier: DirNotifier;

  constructor(dir: string, private readonly logger: Logger, opts: FileQueueOptions = {}) {
    this.d = new QueueDirs(dir, logger);
    this.dir = this.d.root;
    this.listing = new Listing(opts.listingTtlMs ?? 200);
    this.notifier = new DirNotifier(this.d.ready, logger, (name) => {
      if (name === null || !this.listing.knows(name)) this.listing.invalidate();
    });
  }

  async enqueue(job: QueuedJob): Promise<void> {
    await this.enqueueMany([job]);
  }

  async enqueueMany(jobs: QueuedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const seen = new Set<string>();
    for (const job of jobs) {
      validateJob(job, PLUGIN_NAME);
      const key = keyOfId(job.id);
      if (seen.has(key)) throw duplicate(job.id, 'appears twice in one enqueueMany');
      seen.add(key);
    }
    // Encode first: a job that cannot be stored leaves the queue unchanged.
    const files = jobs.map((job) => ({ job, key: keyOfId(job.id), bytes: encodeJob(job), temp: path.join(this.d.tmp, tempName()) }));
    const marked: string[] = [];
    const written: string[] = [];
    try {
      for (const f of files) {
        if (!this.d.createMarker(f.key)) throw duplicate(f.job.id, 'is already in the queue');
        marked.push(f.key);
        tryUnlink(path.join(this.d.flags, f.key)); // a flag left by a cancel that raced an ack
      }
      if (files.length === 1) {
        writeSynced(files[0].temp, files[0].bytes);
        written.push(files[0].temp);
      } else {
        await writeSyncedMany(files.map((f) => ({ path: f.temp, data: f.bytes })), written);
      }
    } catch (err) {
      for (const t of written) tryUnlink(t);
      for (const k of marked) tryUnlink(path.join(this.d.ids, k));
      if (err instanceof NuvomError) throw err;
      throw storageError('writing job files', err, { dir: this.dir });
    }
    let moved = 0;
    try {
      for (const f of files) {
        const job: JobName = { priority: f.job.priority, runAt: f.job.runAt, seq: nextSeq(), attempts: f.job.attempts, key: f.key };
        const name = formatName(job);
        fs.renameSync(f.temp, path.join(this.d.ready, name));
        moved += 1;
        this.listing.addReady({ name, job });
      }
    } catch (err) {
      // Jobs already moved stay (another process may hold them by now); the rest are undone.
      for (const f of files.slice(moved)) {
        tryUnlink(f.temp);
        tryUnlink(path.join(this.d.ids, f.key));
      }
      throw storageError(`moving job files into the ready directory (${moved} of ${files.length} were enqueued)`, err, { dir: this.dir });
    }
    fsyncDir(this.d.ready);
    this.notifier.notifyLocal();
  }

  async claim(opts: ClaimOptions): Promise<ClaimedJob[]> {
    return this.io('claiming jobs', () => {
      const { workerId, leaseMs } = opts;
      const { now, max } = claimArgs(opts, undefined, PLUGIN_NAME);
      const out: ClaimedJob[] = [];
      if (max === 0) return out;
      let fresh = false;
      if (!this.listing.isFresh()) {
        this.refresh();
        fresh = true;
      }
      for (;;) {
        this.claimFromListing(out, max, workerId, leaseMs, now);
        if (out.length >= max || fresh) return out;
        this.refresh();
        fresh = true;
      }
    });
  }

  async renew(ids: string[], workerId: string, leaseMs: number, now = Date.now()): Promise<RenewResult> {
    return this.io('renewing leases', () => {
      checkLease('renew', workerId, leaseMs);
      const tag = tagOfWorker(workerId);
      const byKey = this.d.leasedByKey();
      const held: string[] = [];
      const cancelled: string[] = [];
      for (const id of ids) {
        const entry = byKey.get(keyOfId(id))?.find((e) => e.job.lease!.worker === tag);
        if (!entry) continue;
        const renewed: JobName = { ...entry.job, lease: { expiresAt: now + leaseMs, worker: tag } };
        const name = formatName(renewed);
        if (!tryRename(path.join(this.d.leased, entry.name), path.join(this.d.leased, name))) continue;
        this.listing.removeLeased(entry.name);
        this.listing.addLeased({ name, job: renewed });
        held.push(id);
        if (fs.existsSync(path.join(this.d.flags, entry.job.key))) cancelled.push(id);
      }
      return { held, cancelled };
    });
  }

  async ack(id: string, workerId: string): Promise<void> {
    await this.ackMany([id], workerId);
  }

  async ackMany(ids: string[], workerId: string): Promise<void> {
    return this.io('acking jobs', () => {
      const tag = tagOfWorker(workerId);
      const byKey = this.d.leasedByKey();
      for (const id of ids) {
        for (const entry of byKey.get(keyOfId(id)) ?? []) {
          if (entry.job.lease!.worker !== tag) continue;
          if (tryUnlink(path.join(this.d.leased, entry.name))) this.d.forget(entry.job.key);
          this.listing.removeLeased(entry.name);
        }
      }
    });
  }

  async retry(id: string, workerId: string, runAt: number): Promise<void> {
    return this.io('scheduling a retry', () => {
      if (typeof runAt !== 'number' || !Number.isFinite(runAt)) throw usage(`retry runAt must be epoch milliseconds, got ${JSON.stringify(runAt)}`);
      const tag = tagOfWorker(workerId);
      const entry = this.d.leasedByKey().get(keyOfId(id))?.find((e) => e.job.lease!.worker === tag);
      if (!entry) return;
      const { lease: _lease, ...rest } = entry.job;
      const job: JobName = { ...rest, runAt, seq: nextSeq() };
      const name = formatName(job);
      if (!tryRename(path.join(this.d.leased, entry.name), path.join(this.d.ready, name))) return;
      this.listing.removeLeased(entry.name);
      this.listing.addReady({ name, job });
      this.notifier.notifyLocal();
    });
  }

  async release(id: string, workerId: string): Promise<void> {
    return this.io('releasing a job', () => {
      const tag = tagOfWorker(workerId);
      const entry = this.d.leasedByKey().get(keyOfId(id))?.find((e) => e.job.lease!.worker === tag);
      if (!entry) return;
      // Same seq and runAt: the job goes back to its old place; the claim's attempt is taken back.
      const { lease: _lease, ...rest } = entry.job;
      const job: JobName = { ...rest, attempts: Math.max(0, rest.attempts - 1) };
      const name = formatName(job);
      if (!tryRename(path.join(this.d.leased, entry.name), path.join(this.d.ready, name))) return;
      this.listing.removeLeased(entry.name);
      this.listing.addReady({ name, job });
      this.notifier.notifyLocal();
    });
  }

  async fail(id: string, workerId: string): Promise<void> {
    await this.ackMany([id], workerId);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    return this.io('cancelling a job', () => {
      const key = keyOfId(id);
      // A job may move between our look and our action (claimed, retried); look again then.
      for (let round = 0; round < 5; round++) {
        const found = this.d.find(key);
        if (!found) return 'absent';
        if (found.where === 'ready') {
          if (!tryUnlink(path.join(this.d.ready, found.entry.name))) continue;
          this.listing.removeReady(found.entry.name);
          this.d.forget(key);
          return 'removed';
        }
        fs.writeFileSync(path.join(this.d.flags, key), `${new Date().toISOString()}\n`);
        if (this.d.find(key)) {
          this.notifier.notifyLocal(); // a worker of this process holding it looks now (Queue.cancelRequested)
          return 'signalled';
        }
        tryUnlink(path.join(this.d.flags, key)); // it finished meanwhile
        return 'absent';
      }
      return 'absent';
    });
  }

  /** A flag file per requested cancel: one stat per id, no lock. */
  async cancelRequested(ids: string[]): Promise<string[]> {
    return this.io('looking for cancel requests', () => ids.filter((id) => fs.existsSync(path.join(this.d.flags, keyOfId(id)))));
  }

  async get(id: string): Promise<QueuedJob | null> {
    return this.io('reading a job', () => {
      const key = keyOfId(id);
      for (let round = 0; round < 5; round++) {
        const found = this.d.find(key);
        if (!found) return null;
        const file = path.join(found.where === 'ready' ? this.d.ready : this.d.leased, found.entry.name);
        let bytes: Buffer;
        try {
          bytes = fs.readFileSync(file);
        } catch (err) {
          if (errno(err) === 'ENOENT') continue; // moved meanwhile
          throw storageError(`reading ${file}`, err);
        }
        try {
          return withName(decodeJob(bytes), found.entry.job);
        } catch (err) {
          throw new NuvomError('NUVOM_E_STORAGE_CORRUPT', `job file ${file} cannot be decoded (${(err as Error).message}); the next claim moves it to ${this.d.corrupt}`, { plugin: PLUGIN_NAME });
        }
      }
      return null;
    });
  }

  async counts(now = Date.now()): Promise<QueueCounts> {
    return this.io('counting jobs', () => {
      this.refresh();
      const counts: QueueCounts = { ready: 0, delayed: 0, leased: 0 };
      for (const e of this.listing.ready) counts[e.job.runAt <= now ? 'ready' : 'delayed'] += 1;
      for (const e of this.listing.leased) counts[e.job.lease!.expiresAt <= now ? 'ready' : 'leased'] += 1;
      return counts;
    });
  }

  async qsize(): Promise<number> {
    return this.io('counting jobs', () => {
      this.refresh();
      return this.listing.ready.length + this.listing.leased.length;
    });
  }

  async nextRunAt(): Promise<number | null> {
    return this.io('reading the queue', () => {
      this.refresh();
      let min: number | null = null;
      for (const e of this.listing.ready) if (min === null || e.job.runAt < min) min = e.job.runAt;
      return min;
    });
  }

  async clear(): Promise<void> {
    return this.io('clearing the queue', () => {
      for (const d of [this.d.ready, this.d.leased, this.d.ids, this.d.flags]) {
        for (const name of listDir(d)) tryUnlink(path.join(d, name));
      }
      this.listing.load([], []);
    });
  }

  subscribe(onChange: () => void): () => void {
    return this.notifier.subscribe(onChange);
  }

  async close(): Promise<void> {
    this.notifier.close();
  }

  /** Runs a synchronous step; filesystem failures become NUVOM_E_STORAGE naming the step. */
  private io<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof NuvomError) throw err;
      throw storageError(`${what} in ${this.dir}`, err);
    }
  }

  /** Claims from the snapshot in order (ready jobs due by `now` and expired leases, merged). */
  private claimFromListing(out: ClaimedJob[], max: number, workerId: string, leaseMs: number, now: number): void {
    const tag = tagOfWorker(workerId);
    const expired = this.listing.leased.filter((e) => e.job.lease!.expiresAt <= now).sort((a, b) => (orderKey(a.name) < orderKey(b.name) ? -1 : 1));
    const ready = this.listing.ready;
    let i = 0;
    let j = 0;
    while (out.length < max) {
      while (i < ready.length && ready[i].job.runAt > now) i++;
      const r = ready[i];
      const x = expired[j];
      if (!r && !x) return;
      const fromReady = r !== undefined && (x === undefined || orderKey(r.name) <= orderKey(x.name));
      const entry = fromReady ? r : x;
      const next: JobName = { ...entry.job, attempts: entry.job.attempts + 1, lease: { expiresAt: now + leaseMs, worker: tag } };
      const name = formatName(next);
      const from = path.join(fromReady ? this.d.ready : this.d.leased, entry.name);
      const to = path.join(this.d.leased, name);
      if (fromReady) this.listing.removeReady(entry.name);
      else {
        j++;
        this.listing.removeLeased(entry.name);
      }
      if (!tryRename(from, to)) continue; // another process won it
      const job = this.readClaimed(to, next);
      if (!job) continue;
      this.listing.addLeased({ name, job: next });
      // A file taken from leased/ had a lease that ran out: a redelivery.
      out.push({ ...job, workerId, leaseExpiresAt: next.lease!.expiresAt, redelivered: !fromReady });
    }
  }

  /** Reads a file this process just renamed into leased/; quarantines it when it cannot be decoded. */
  private readClaimed(file: string, name: JobName): QueuedJob | null {
    let reason: string;
    try {
      const job = decodeJob(fs.readFileSync(file));
      if (keyOfId(job.id) === name.key) return withName(job, name);
      reason = `the job id ${JSON.stringify(job.id)} inside does not match the file name`;
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      reason = (err as Error).message;
    }
    const moved = quarantine(file, this.d.corrupt, reason);
    if (moved) {
      this.d.forget(name.key);
      this.logger.warn('file queue: a job file could not be decoded and was quarantined; the claim went on with the next file', {
        file: moved, reason, code: 'NUVOM_E_STORAGE_CORRUPT',
      });
    }
    return null;
  }

  /** Re-reads both directories; quarantines any file whose name is not of this layout. */
  private refresh(): void {
    const { strayReady, strayLeased } = this.listing.load(listDir(this.d.ready), listDir(this.d.leased));
    for (const [dir, names] of [[this.d.ready, strayReady], [this.d.leased, strayLeased]] as const) {
      for (const name of names) {
        const moved = quarantine(path.join(dir, name), this.d.corrupt, 'the file name does not match the queue layout (not written by this nuvom version?)');
        if (moved) this.logger.warn('file queue: a stray file in the queue directory was quarantined', { file: moved, code: 'NUVOM_E_STORAGE_CORRUPT' });
      }
    }
  }
}

/** The envelope's job with the mutable state its file name carries. */
function withName(job: QueuedJob, name: JobName): QueuedJob {
  return {
    id: job.id,
    taskName: job.taskName,
    args: job.args,
    priority: name.priority,
    runAt: name.runAt,
    attempts: name.attempts,
    createdAt: job.createdAt,
    options: job.options,
    meta: job.meta,
  };
}

function duplicate(id: string, _what: string): NuvomError {
  return duplicateJob(id, PLUGIN_NAME);
}

function checkLease(method: string, workerId: string, leaseMs: number): void {
  checkWorkerId(method, workerId, PLUGIN_NAME);
  checkLeaseMs(method, leaseMs, PLUGIN_NAME);
}

function usage(message: string): NuvomError {
  return new NuvomError('NUVOM_E_USAGE', message, { plugin: PLUGIN_NAME });
}
