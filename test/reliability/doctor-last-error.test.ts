/**
 * doctor's storage-errors check judges the record a worker left in .nuvom/last-storage-error.json: an
 * unrecovered error of a worker that still runs FAILs; one of a worker of this host that has exited
 * (a `--burst` run, a restarted worker) is history and only warns, since nothing can record its recovery.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { checkLastStorageError, LAST_ERROR_FILE, storageOf } from '../../builtin-plugins/doctor/last-error.ts';
import { bytes } from '../../builtin-plugins/doctor/report.ts';
import type { NuvomConfig } from '../../sdk/plugin.ts';
import { cleanupTempProjects, tempProject } from '../helpers/tmp.ts';

function withRecord(pid: number, host = hostname(), storage?: string): NuvomConfig {
  const cwd = tempProject();
  const at = new Date().toISOString();
  mkdirSync(path.join(cwd, '.nuvom'), { recursive: true });
  writeFileSync(path.join(cwd, LAST_ERROR_FILE), JSON.stringify({
    workerId: 'w1', host, pid, op: 'claim', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5999',
    firstAt: at, lastAt: at, count: 3, recoveredAt: null, storage,
  }));
  return { cwd } as NuvomConfig;
}

describe('doctor: the last storage error a worker recorded', () => {
  after(cleanupTempProjects);

  it('FAILs while the worker that hit it still runs', () => {
    const f = checkLastStorageError(withRecord(process.pid));
    expect(f.level).to.equal('FAIL');
    expect(f.detail).to.match(/failed to claim jobs: connect ECONNREFUSED/);
  });

  it('only warns once that worker has exited (a burst run): it can no longer record a recovery', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const f = checkLastStorageError(withRecord(gone));
    expect(f.level).to.equal('warn');
    expect(f.detail).to.contain('that worker has exited');
    expect(f.fix).to.contain('delete');
  });

  it('tells a record of another configuration sharing the folder (another PostgreSQL schema) from this one\'s', () => {
    const pg = (schema: string) => ({ queueBackend: 'postgres', resultBackend: 'postgres', postgresUrl: 'postgres://app:pw@db/app', postgresSchema: schema, logLevel: 'info' }) as unknown as NuvomConfig;
    const a = storageOf(pg('app_a'));
    expect(a).to.match(/^postgres\/postgres [0-9a-f]{12}$/).and.not.contain('pw');
    expect(storageOf(pg('app_b'))).to.not.equal(a);
    expect(storageOf({ ...pg('app_a'), logLevel: 'debug' } as NuvomConfig)).to.equal(a); // only the storage's settings count
    // ... and of those, where the data is: a worker run with another pool size or migrate switch writes to the same schema.
    expect(storageOf({ ...pg('app_a'), postgresPoolSize: 2, postgresMigrate: false } as unknown as NuvomConfig)).to.equal(a);
    expect(storageOf({ ...pg('app_a'), postgresUrl: 'postgres://app:pw@other/app' } as NuvomConfig)).to.not.equal(a);
    const cwd = withRecord(process.pid, hostname(), a).cwd;
    const other = checkLastStorageError({ ...pg('app_b'), cwd } as NuvomConfig);
    expect(other.level).to.equal('ok');
    expect(other.detail).to.contain("the last one in").and.contain("is another's: postgres/postgres");
    expect(checkLastStorageError({ ...pg('app_a'), cwd } as NuvomConfig).level).to.equal('FAIL');
  });

  it('keeps FAIL for a recent error of a worker on another host (its liveness is not known here)', () => {
    expect(checkLastStorageError(withRecord(999_999_999, 'another-host')).level).to.equal('FAIL');
  });
});

describe('doctor: sizes', () => {
  it('writes a size in the largest unit it reaches (a 250 GB disk was "258019.6 MB")', () => {
    expect([bytes(512), bytes(1536), bytes(3.5 * 2 ** 20), bytes(258019.6 * 2 ** 20), bytes(3 * 2 ** 40)]).to.deep.equal(['512 B', '1.5 KB', '3.5 MB', '252.0 GB', '3.0 TB']);
  });
});
