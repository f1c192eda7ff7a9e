/**
 * Worker heartbeats for the file result store (HeartbeatStore, contracts.ts): one small JSON file
 * per worker in `<fileResultDir>/workers/`, replaced by a temp-then-rename so that a reader in
 * another process sees the old beat or the new one, never half of one.
 * Must never: delete a file it cannot read (an unreadable beat is skipped and left for a person).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger, WorkerHeartbeat } from '../../sdk/plugin.ts';
import { errno, storageError, tempName, tryUnlink } from './fsutil.ts';

const SUFFIX = '.json';

function isBeat(v: unknown): v is WorkerHeartbeat {
  const o = v as Record<string, unknown> | null;
  return !!o && typeof o.workerId === 'string' && typeof o.host === 'string'
    && ['pid', 'threads', 'busyThreads', 'jobsPerSec', 'startedAt', 'lastBeatAt', 'periodMs'].every((k) => typeof o[k] === 'number');
}

export class FileHeartbeats {
  constructor(private readonly dir: string, private readonly logger: Logger) {}

  private fileOf(workerId: string): string {
    return path.join(this.dir, encodeURIComponent(workerId) + SUFFIX);
  }

  async put(beat: WorkerHeartbeat): Promise<void> {
    const tmp = path.join(this.dir, tempName());
    try {
      await fs.promises.mkdir(this.dir, { recursive: true });
      await fs.promises.writeFile(tmp, JSON.stringify(beat), { flag: 'wx' });
      await fs.promises.rename(tmp, this.fileOf(beat.workerId));
    } catch (err) {
      tryUnlink(tmp);
      throw storageError('writing a worker heartbeat', err, { dir: this.dir });
    }
  }

  async remove(workerId: string): Promise<void> {
    try {
      await fs.promises.unlink(this.fileOf(workerId));
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw storageError('removing a worker heartbeat', err, { dir: this.dir });
    }
  }

  async list(): Promise<WorkerHeartbeat[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.dir);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw storageError('listing worker heartbeats', err, { dir: this.dir });
    }
    const beats: WorkerHeartbeat[] = [];
    for (const name of names.filter((n) => n.endsWith(SUFFIX)).sort()) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await fs.promises.readFile(path.join(this.dir, name), 'utf8'));
      } catch (err) {
        if (errno(err) === 'ENOENT') continue; // its worker removed it between readdir and read
        parsed = null;
      }
      if (isBeat(parsed)) beats.push(parsed);
      else this.logger.warn(`skipping an unreadable worker heartbeat file ${path.join(this.dir, name)}; delete it if no worker writes it`, { code: 'NUVOM_E_STORAGE' });
    }
    return beats.sort((a, b) => a.startedAt - b.startedAt || (a.workerId < b.workerId ? -1 : 1));
  }
}
