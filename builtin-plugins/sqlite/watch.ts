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
 *     filesystems; the pragma reads shared memory only, so the poll costs microseconds).
 * Writes made through this process's shared connection (enqueue, retry) call `notifyLocal()` directly.
 * Wake-ups are coalesced to one call per listener per turn of the event loop.
 * Must never: keep the process alive (timers are unref'd, the watcher is not persistent) or throw from
 * a timer (a failing listener is logged).
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Logger } from '../../sdk/plugin.ts';

export const DEFAULT_POLL_MS = 25;

export class ChangeNotifier {
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readDataVersion: (() => number) | null = null;
  private lastVersion = -1;
  private pending = false;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly pollMs = DEFAULT_POLL_MS,
    private readonly logger?: Logger,
  ) {}

  subscribe(onChange: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(onChange);
    if (this.listeners.size === 1) this.start();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.listeners.delete(onChange);
      if (this.listeners.size === 0) this.stop();
    };
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
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
    if (this.file === ':memory:') return;
    const base = path.basename(this.file);
    try {
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === base || name === `${base}-wal`) this.check();
      });
      this.watcher.on('error', () => this.dropWatcher());
    } catch {
      // No fs.watch here (inotify limit, unsupported filesystem): the data_version poll still works.
      this.watcher = null;
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dropWatcher();
    this.readDataVersion = null;
  }

  private dropWatcher(): void {
    this.watcher?.close();
    this.watcher = null;
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
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch (err) {
          this.logger?.warn(`a queue subscriber threw: ${err instanceof Error ? err.message : String(err)}`, { file: this.file });
        }
      }
    });
  }
}
