import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isNuvomError } from '../../sdk/plugin.ts';
import { acquireDb, openFiles, withBusyRetry } from '../../builtin-plugins/sqlite/db.ts';
import { SCHEMA_VERSION } from '../../builtin-plugins/sqlite/schema.ts';
import { SqliteQueue, SqliteResultStore, SqliteScheduleStore } from '../../builtin-plugins/sqlite/index.ts';
import { jsonSerializer, tempDir } from './helpers.ts';

function busyError(): Error {
  return Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
}

describe('sqlite plugin: opening files', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('puts the database file in WAL mode', async () => {
    const file = tmp.file();
    const queue = new SqliteQueue({ path: file });
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).to.equal('wal');
    } finally {
      raw.close();
      await queue.close();
    }
  });

  it('sets synchronous=NORMAL and a 5 s busy timeout on the connection', async () => {
    const lease = acquireDb(tmp.file(), 'queue');
    try {
      expect(lease.db.pragma('synchronous', { simple: true })).to.equal(1);
      expect(lease.db.pragma('busy_timeout', { simple: true })).to.equal(5000);
    } finally {
      lease.release();
    }
  });

  it('stamps the schema version in user_version', async () => {
    const file = tmp.file();
    const queue = new SqliteQueue({ path: file });
    await queue.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).to.equal(SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it('refuses a file written by a newer schema version with NUVOM_E_STORAGE', () => {
    const file = tmp.file();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => new SqliteQueue({ path: file })).to.throw().that.satisfies((err: unknown) => isNuvomError(err, 'NUVOM_E_STORAGE'));
    expect(openFiles()).to.not.include(file);
  });

  it('creates the parent directories of the database file', async () => {
    const file = path.join(tmp.dir, 'a', 'b', 'c', 'nuvom.db');
    const store = new SqliteResultStore({ path: file, serializer: jsonSerializer });
    expect(existsSync(file)).to.equal(true);
    await store.close();
  });

  it('shares one connection between services on the same file and closes it after the last close', async () => {
    const file = tmp.file();
    const queue = new SqliteQueue({ path: file });
    const results = new SqliteResultStore({ path: file, serializer: jsonSerializer });
    const schedules = new SqliteScheduleStore({ path: file });
    expect(openFiles().filter((f) => f === file)).to.have.length(1);
    await queue.close();
    await results.close();
    expect(openFiles()).to.include(file);
    await schedules.close();
    expect(openFiles()).to.not.include(file);
  });

  it('keeps services on different files on different connections', async () => {
    const queue = new SqliteQueue({ path: tmp.file('queue.db') });
    const results = new SqliteResultStore({ path: tmp.file('results.db'), serializer: jsonSerializer });
    expect(openFiles()).to.include.members([tmp.file('queue.db'), tmp.file('results.db')]);
    await queue.close();
    await results.close();
    expect(openFiles()).to.not.include.members([tmp.file('queue.db')]);
  });

  it('refuses calls on a closed service and treats a second close as a no-op', async () => {
    const queue = new SqliteQueue({ path: tmp.file() });
    await queue.close();
    await queue.close();
    let caught: unknown;
    try { await queue.qsize(); } catch (err) { caught = err; }
    expect(isNuvomError(caught, 'NUVOM_E_STORAGE')).to.equal(true);
  });
});

describe('sqlite plugin: the busy retry', () => {
  it('tries again after SQLITE_BUSY and returns the result of the try that succeeds', async () => {
    let calls = 0;
    const value = await withBusyRetry('test', () => {
      calls += 1;
      if (calls < 3) throw busyError();
      return 'done';
    }, { baseDelayMs: 1 });
    expect(value).to.equal('done');
    expect(calls).to.equal(3);
  });

  it('gives up after the bounded number of tries with NUVOM_E_STORAGE', async () => {
    let calls = 0;
    let caught: unknown;
    try {
      await withBusyRetry('test', () => { calls += 1; throw busyError(); }, { attempts: 3, baseDelayMs: 1 });
    } catch (err) {
      caught = err;
    }
    expect(calls).to.equal(3);
    expect(isNuvomError(caught, 'NUVOM_E_STORAGE')).to.equal(true);
    expect((caught as Error).message).to.match(/nothing was written/);
  });

  it('does not retry other errors and reports them as NUVOM_E_STORAGE with the cause', async () => {
    let calls = 0;
    const cause = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    let caught: unknown;
    try {
      await withBusyRetry('test', () => { calls += 1; throw cause; }, { baseDelayMs: 1 });
    } catch (err) {
      caught = err;
    }
    expect(calls).to.equal(1);
    expect(isNuvomError(caught, 'NUVOM_E_STORAGE')).to.equal(true);
    expect((caught as Error).cause).to.equal(cause);
  });
});
