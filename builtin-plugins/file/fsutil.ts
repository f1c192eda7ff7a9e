/**
 * Small filesystem helpers shared by the file queue and the file result store: durable temp-then-
 * rename writes, quarantine of unreadable files, and ENOENT-tolerant renames (a rename that fails
 * with ENOENT means another process moved the file first: the caller lost a race, nothing broke).
 * Must never: delete a file it cannot read; quarantine moves it aside with a reason beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NuvomError, messageOf } from '../../sdk/plugin.ts';

export const PLUGIN_NAME = 'nuvom-file';

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export function storageError(what: string, err: unknown, details: Record<string, unknown> = {}): NuvomError {
  return new NuvomError('NUVOM_E_STORAGE', `${what} failed: ${messageOf(err)}; check that the directory exists, is writable and has free space`, {
    plugin: PLUGIN_NAME, cause: err, details,
  });
}

/** A unique temp file name: `<pid>-<random>.tmp`, never a name the readers look at. */
export function tempName(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
}

/** Writes `data` to `file` (a temp path), fsyncs it. The caller renames it into place. */
export function writeSynced(file: string, data: Uint8Array): void {
  const fd = fs.openSync(file, 'wx', 0o644);
  try {
    let off = 0;
    while (off < data.byteLength) off += fs.writeSync(fd, data, off, data.byteLength - off);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    tryUnlink(file);
    throw err;
  }
  fs.closeSync(fd);
}

/**
 * writeSynced for many files, several at a time on libuv's thread pool: fsyncs of separate files
 * overlap (the filesystem journal commits them together), which is most of an enqueueMany's cost.
 * Rejects with the first failure once every write has settled; `done` lists the files written.
 */
export async function writeSyncedMany(files: Array<{ path: string; data: Uint8Array }>, done: string[], parallel = 8): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < files.length && failure === undefined) {
      const f = files[next++];
      try {
        const handle = await fs.promises.open(f.path, 'wx', 0o644);
        done.push(f.path);
        try {
          await handle.writeFile(f.data);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, lane));
  if (failure !== undefined) throw failure;
}

/** fsync a directory so a rename into it survives a crash; some platforms refuse, which is fine. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows and some network filesystems cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** rename(from, to); false when `from` is gone (another process won the race). */
export function tryRename(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

/** unlink(file); false when it was already gone. */
export function tryUnlink(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

/** readdir that treats a missing directory as empty. */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if (errno(err) === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Moves `file` into `corruptDir` (same name, plus a random suffix if taken) and writes a sibling
 * `<name>.reason` text file. Returns the new path, or null when the file had already gone.
 */
export function quarantine(file: string, corruptDir: string, reason: string): string | null {
  fs.mkdirSync(corruptDir, { recursive: true });
  let target = path.join(corruptDir, path.basename(file));
  if (fs.existsSync(target)) target += `.${randomBytes(4).toString('hex')}`;
  if (!tryRename(file, target)) return null;
  const text = `${new Date().toISOString()} quarantined by nuvom (pid ${process.pid})\nfrom: ${file}\nreason: ${reason}\n`;
  try {
    fs.writeFileSync(`${target}.reason`, text);
  } catch {
    // The file itself is safe in the quarantine; a missing reason file is not worth failing for.
  }
  return target;
}
