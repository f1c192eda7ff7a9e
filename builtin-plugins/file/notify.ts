/**
 * Queue.subscribe for the file queue: fs.watch on the ready directory (a rename into it by any
 * process fires an event) plus direct local notification after this instance writes. Bursts (an
 * enqueueMany of 1,000 files) are coalesced into one call per listener per few milliseconds.
 * fs.watch is best effort (network filesystems may stay silent), so workers still poll on a timer.
 * Must never: keep the process alive (the watcher and the timer are unref'd) or throw from a
 * callback (a failing listener is logged).
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../../sdk/plugin.ts';

const COALESCE_MS = 5;

export class DirNotifier {
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly dir: string, private readonly logger: Logger, private readonly onEvent?: (name: string | null) => void) {}

  subscribe(onChange: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(onChange);
    if (!this.watcher) this.startWatching();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.listeners.delete(onChange);
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  /** This instance wrote to the ready directory. */
  notifyLocal(): void {
    if (this.listeners.size > 0) this.schedule();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stopWatching();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        this.onEvent?.(typeof name === 'string' ? name : null);
        this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.logger.warn('file queue: watching the ready directory failed; workers fall back to polling', { dir: this.dir, error: err.message });
        this.stopWatching();
      });
    } catch (err) {
      this.logger.warn('file queue: cannot watch the ready directory; workers fall back to polling', { dir: this.dir, error: (err as Error).message });
      this.watcher = null;
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch (err) {
          this.logger.warn('file queue: a subscribe listener threw', { error: (err as Error).message });
        }
      }
    }, COALESCE_MS);
    this.timer.unref();
  }
}
