/**
 * Change notification for Queue.subscribe on one SQLite file, so idle workers wake within milliseconds
 * instead of polling the queue table.
 *
 * The choice: SQLite has no cross-process notification, so we combine two cheap signals and let
 * `PRAGMA data_version` decide. data_version changes exactly when ANOTHER connection (another process,
 * or another connection in this one) has committed to the file since we last looked; our own commits
 * do not change it, so our own acks do not wake us. We read it
 *   - when fs.watch reports a change to the file or its -wal (immediate wake-up where inotify/FSEvents
 *     work; we watch the directory because the -wal file comes and goes with checkpoints), and
 *   - every `pollMs` while someone is subscribed (fs.watch is unreliable on network and container
 *     filesystems; the pragma reads shared memory only, so the poll costs microseconds). Once the
 *     watcher has proven it works here (it reported a probe file written next to the database), the
 *     poll slows to `provenPollMs`: it is then only a safety net, and an idle worker's timer
 *     wake-ups (expensive on some VMs) drop tenfold.
 * Writes made through this process's shared connection (enqueue, retry) call `notifyLocal()` directly.
 * Wake-ups are coalesced to one call per listener per turn of the event loop.
 * Must never: keep the process alive (timers are unref'd, the watcher is not persistent) or throw from
 * a timer (a failing listener is logged).
 */
import { rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { ChangeListeners, type Logger } from '../../sdk/plugin.ts';

export const DEFAULT_POLL_MS = 25;
/** The safety-net poll once fs.watch is known to deliver events for this directory. */
export const PROVEN_POLL_MS = 250;

export class ChangeNotifier {
  private readonly listeners: ChangeListeners;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readDataVersion: (() => number) | null = null;
  private lastVersion = -1;
  private closed = false;
  private proven = false;
  private probe: string | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly pollMs = DEFAULT_POLL_MS,
    private readonly logger?: Logger,
    private readonly provenPollMs = PROVEN_POLL_MS,
  ) {
    this.listeners = new ChangeListeners(logger, `SQLite queue (${file})`);
  }

  subscribe(onChange: () => void): () => void {
    if (this.closed) return () => {};
    const off = this.listeners.add(onChange);
    if (this.listeners.size === 1) this.start();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      off();
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** The poll interval in force (ms), or null when nobody is subscribed. */
  get pollInterval(): number | null {
    return this.timer ? (this.proven ? this.provenPollMs : this.pollMs) : null;
  }

  /** A write through this process's connection may have made jobs claimable. */
  notifyLocal(): void {
    if (this.listeners.size > 0) this.schedule();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    const stmt = this.db.prepare('PRAGMA data_version').pluck();
    this.readDataVersion = () => stmt.get() as number;
    this.lastVersion = this.readDataVersion();
    this.poll(this.proven ? this.provenPollMs : this.pollMs);
    if (this.file === ':memory:') return;
    const base = path.basename(this.file);
    const probeName = `${base}-watch-${process.pid}`;
    try {
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === probeName) this.proveWatcher();
        else if (name === null || name === base || name === `${base}-wal`) this.check();
      });
      this.watcher.on('error', () => this.dropWatcher());
    } catch {
      // No fs.watch here (inotify limit, unsupported filesystem): the data_version poll still works.
      this.watcher = null;
      return;
    }
    if (this.proven) return;
    // Prove the watcher once: a file it must report, removed as soon as it has been (or on stop).
    this.probe = path.join(path.dirname(this.file), probeName);
    try {
      writeFileSync(this.probe, '');
    } catch {
      this.probe = null; // a read-only folder: keep the fast poll
    }
  }

  private poll(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.check(), ms);
    this.timer.unref();
  }

  private proveWatcher(): void {
    this.removeProbe();
    if (this.proven || !this.timer) return;
    this.proven = true;
    this.poll(this.provenPollMs);
  }

  private removeProbe(): void {
    if (!this.probe) return;
    rmSync(this.probe, { force: true });
    this.probe = null;
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dropWatcher();
    this.readDataVersion = null;
  }

  private dropWatcher(): void {
    this.removeProbe();
    this.watcher?.close();
    this.watcher = null;
    // Without the watcher the poll is the only signal again.
    if (this.proven && this.timer) {
      this.proven = false;
      this.poll(this.pollMs);
    }
  }

  private check(): void {
    if (!this.readDataVersion || !this.db.open) return;
    let version: number;
    try {
      version = this.readDataVersion();
    } catch {
      return; // busy or closing: the next tick looks again
    }
    if (version !== this.lastVersion) {
      this.lastVersion = version;
      this.schedule();
    }
  }

  private schedule(): void {
    this.listeners.notify();
  }

}
