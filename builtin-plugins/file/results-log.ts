/**
 * The append-only log behind the file result store: results.jsonl, one whole record per line, and an
 * in-memory index (id -> latest line's offset plus a summary) that other processes' appends reach
 * incrementally: before each read we stat the file and parse only the bytes added since.
 *
 * Writers (appends, and purge/compaction rewrites) serialize through a lock file, so an append is
 * one write() of whole lines and never lands in a file that a purge is about to replace. Readers take
 * no lock: a rewrite is a temp file renamed over results.jsonl, and a reader that sees a new inode
 * re-reads it from the start. A line that does not parse (a crash mid-append) is skipped with a
 * warning; the next writer first ends such a partial line, and a rewrite copies unreadable lines to
 * .corrupt/ with a reason instead of dropping them.
 * Must never: index an incomplete line, or lose a line written under the lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NuvomError, type Logger } from '../../sdk/plugin.ts';
import { PLUGIN_NAME, errno, fsyncDir, storageError, tempName } from './fsutil.ts';
import { withFileLock } from './lock.ts';
import { parseLine, type Summary } from './results-codec.ts';

export interface LogEntry extends Summary {
  offset: number;
  /** Bytes of the line without its newline. */
  length: number;
}

interface BadLine {
  offset: number;
  length: number;
  reason: string;
}

const CHUNK = 4 << 20;
const FSYNC_DELAY_MS = 50;
const COMPACT_MIN_DEAD_BYTES = 8 << 20;
const STALE_TEMP_MS = 3_600_000;

export class ResultLog {
  readonly file: string;
  private readonly lockPath: string;
  private readonly corruptDir: string;
  private fd: number | null = null;
  private ino = -1;
  /** File size at the last sync. */
  private size = 0;
  /** Bytes of complete lines indexed: everything before this offset. */
  private indexed = 0;
  private liveBytes = 0;
  private badLines: BadLine[] = [];
  readonly entries = new Map<string, LogEntry>();
  private unsynced = false;
  private fsyncTimer: NodeJS.Timeout | null = null;

  constructor(readonly dir: string, private readonly logger: Logger) {
    this.file = path.join(dir, 'results.jsonl');
    this.lockPath = path.join(dir, 'results.lock');
    this.corruptDir = path.join(dir, '.corrupt');
    try {
      fs.mkdirSync(dir, { recursive: true });
      this.sweepTemp();
      this.sync();
    } catch (err) {
      this.close();
      throw storageError(`opening the file result store ${this.file}`, err);
    }
    if (this.size > this.indexed) {
      this.logger.warn('file result store: the last line is incomplete (a crash mid-append?) and is ignored', { file: this.file, offset: this.indexed, bytes: this.size - this.indexed });
    }
  }

  /** Catches up with the file: reopens it when a rewrite replaced it, then indexes new complete lines. */
  sync(): void {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      fs.closeSync(fs.openSync(this.file, 'a'));
      st = fs.statSync(this.file);
    }
    if (this.fd === null || st.ino !== this.ino) {
      this.reopen();
    } else {
      this.size = fs.fstatSync(this.fd).size;
    }
    if (this.size < this.indexed) {
      this.logger.warn('file result store: results.jsonl shrank under us (truncated by hand?); re-reading it', { file: this.file });
      this.resetIndex();
    }
    if (this.size > this.indexed) this.scan(this.indexed, this.size);
  }

  /** Appends whole lines (each ending in "\n") under the writers' lock. */
  async append(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    await withFileLock(this.lockPath, () => {
      this.sync();
      // A partial line left by a crash would swallow our first line: end it first.
      const out = this.size > this.indexed ? Buffer.concat([Buffer.from('\n'), bytes]) : bytes;
      const fd = this.fd!;
      let off = 0;
      while (off < out.length) off += fs.writeSync(fd, out, off, out.length - off);
      this.unsynced = true;
      this.size = fs.fstatSync(fd).size;
      this.scan(this.indexed, this.size);
    });
    this.scheduleFsync();
    if (this.deadBytes() > Math.max(COMPACT_MIN_DEAD_BYTES, this.liveBytes)) await this.rewrite(() => false, true);
  }

  /** The parsed line of an entry from the last sync. */
  read(entry: LogEntry): Record<string, unknown> {
    const buf = Buffer.allocUnsafe(entry.length);
    const n = fs.readSync(this.fd!, buf, 0, entry.length, entry.offset);
    const parsed = parseLine(buf.toString('utf8', 0, n));
    if ('reason' in parsed) {
      throw new NuvomError('NUVOM_E_STORAGE_CORRUPT', `the record of job ${entry.id} at offset ${entry.offset} of ${this.file} is unreadable: ${parsed.reason}`, { plugin: PLUGIN_NAME });
    }
    return parsed.line;
  }

  /**
   * Rewrites the file without the entries `drop` accepts (purge), or, with `compact`, also when only
   * superseded lines would go: temp file, fsync, rename over. Returns how many records were dropped.
   */
  async rewrite(drop: (e: LogEntry) => boolean, compact = false): Promise<number> {
    return withFileLock(this.lockPath, () => {
      this.sync();
      const dropped = new Set<string>();
      for (const e of this.entries.values()) if (drop(e)) dropped.add(e.id);
      if (dropped.size === 0 && !(compact && this.deadBytes() > 0)) return 0;
      this.quarantineBadLines();
      const keep = [...this.entries.values()].filter((e) => !dropped.has(e.id)).sort((a, b) => a.offset - b.offset);
      const temp = path.join(this.dir, `results.jsonl.${tempName()}`);
      const out = fs.openSync(temp, 'wx', 0o644);
      try {
        let staged: Buffer[] = [];
        let stagedBytes = 0;
        const flush = () => {
          const buf = Buffer.concat(staged, stagedBytes);
          let off = 0;
          while (off < buf.length) off += fs.writeSync(out, buf, off, buf.length - off);
          staged = [];
          stagedBytes = 0;
        };
        for (const e of keep) {
          const buf = Buffer.allocUnsafe(e.length + 1);
          fs.readSync(this.fd!, buf, 0, e.length + 1, e.offset);
          buf[e.length] = 0x0a;
          staged.push(buf);
          stagedBytes += buf.length;
          if (stagedBytes >= CHUNK) flush();
        }
        flush();
        fs.fsyncSync(out);
      } catch (err) {
        fs.closeSync(out);
        fs.rmSync(temp, { force: true });
        throw storageError(`rewriting ${this.file}`, err);
      }
      fs.closeSync(out);
      fs.renameSync(temp, this.file);
      fsyncDir(this.dir);
      this.sync();
      return dropped.size;
    });
  }

  close(): void {
    if (this.fsyncTimer) clearTimeout(this.fsyncTimer);
    this.fsyncTimer = null;
    if (this.fd !== null) {
      this.flush();
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  /** Removes rewrite temp files left by a crash (an hour old: no rewrite takes that long). */
  private sweepTemp(): void {
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.startsWith('results.jsonl.') || !name.endsWith('.tmp')) continue;
      try {
        const file = path.join(this.dir, name);
        if (Date.now() - fs.statSync(file).mtimeMs > STALE_TEMP_MS) fs.rmSync(file, { force: true });
      } catch {
        // Another process swept it first.
      }
    }
  }

  private deadBytes(): number {
    return this.indexed - this.liveBytes;
  }

  private reopen(): void {
    if (this.fd !== null) {
      this.flush();
      fs.closeSync(this.fd);
    }
    this.fd = fs.openSync(this.file, 'a+');
    const st = fs.fstatSync(this.fd);
    this.ino = st.ino;
    this.size = st.size;
    this.resetIndex();
  }

  private resetIndex(): void {
    this.entries.clear();
    this.indexed = 0;
    this.liveBytes = 0;
    this.badLines = [];
  }

  /** Indexes the complete lines in [from, to); leaves a trailing partial line for later. */
  private scan(from: number, to: number): void {
    let pos = from;
    let carry: Buffer | null = null;
    let carryStart = from;
    while (pos < to) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, to - pos));
      const n = fs.readSync(this.fd!, chunk, 0, chunk.length, pos);
      if (n <= 0) break;
      const data: Buffer = carry ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      const dataStart = carry ? carryStart : pos;
      pos += n;
      let start = 0;
      for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
        if (nl > start) this.indexLine(data.toString('utf8', start, nl), dataStart + start, nl - start);
        start = nl + 1;
      }
      carry = start < data.length ? data.subarray(start) : null;
      carryStart = dataStart + start;
      this.indexed = carryStart;
    }
  }

  private indexLine(text: string, offset: number, length: number): void {
    const parsed = parseLine(text);
    if ('reason' in parsed) {
      this.badLines.push({ offset, length, reason: parsed.reason });
      this.logger.warn('file result store: skipped an unreadable line', { file: this.file, offset, reason: parsed.reason });
      return;
    }
    const prev = this.entries.get(parsed.summary.id);
    if (prev) this.liveBytes -= prev.length + 1;
    this.entries.set(parsed.summary.id, { ...parsed.summary, offset, length });
    this.liveBytes += length + 1;
  }

  /** Copies unreadable lines (and a partial last line) to .corrupt/ before a rewrite drops them. */
  private quarantineBadLines(): void {
    const bad = [...this.badLines];
    if (this.size > this.indexed) bad.push({ offset: this.indexed, length: this.size - this.indexed, reason: 'incomplete last line' });
    if (bad.length === 0) return;
    fs.mkdirSync(this.corruptDir, { recursive: true });
    const base = path.join(this.corruptDir, `results-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.jsonl`);
    const lines: Buffer[] = [];
    for (const b of bad) {
      const buf = Buffer.allocUnsafe(b.length);
      fs.readSync(this.fd!, buf, 0, b.length, b.offset);
      lines.push(buf, Buffer.from('\n'));
    }
    fs.writeFileSync(base, Buffer.concat(lines));
    fs.writeFileSync(`${base}.reason`, bad.map((b) => `offset ${b.offset} of ${this.file}: ${b.reason}\n`).join(''));
    this.logger.warn('file result store: unreadable lines were copied aside before a rewrite', { file: base, lines: bad.length, code: 'NUVOM_E_STORAGE_CORRUPT' });
  }

  private scheduleFsync(): void {
    if (this.fsyncTimer) return;
    this.fsyncTimer = setTimeout(() => {
      this.fsyncTimer = null;
      this.flush();
    }, FSYNC_DELAY_MS);
    this.fsyncTimer.unref();
  }

  private flush(): void {
    if (!this.unsynced || this.fd === null) return;
    this.unsynced = false;
    try {
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      this.logger.warn('file result store: fsync failed', { file: this.file, error: (err as Error).message });
    }
  }
}
