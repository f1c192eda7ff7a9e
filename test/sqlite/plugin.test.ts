import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bootKernel, createLogger, definePlugin, isNuvomError, loadConfig, type ConfigKey } from '../../sdk/plugin.ts';
import sqlitePlugin from '../../builtin-plugins/sqlite/index.ts';
import { openFiles } from '../../builtin-plugins/sqlite/db.ts';
import { jobRecord, jsonSerializer, queuedJob, tempDir } from './helpers.ts';

/** Provides the inline JSON serializer, so the result store has one without the msgpack plugin. */
const testSerializer = definePlugin({
  name: 'test-json-serializer',
  apiVersion: 1,
  register(ctx) {
    ctx.provide('serializer', 'testjson', () => jsonSerializer);
  },
});

async function boot(cwd: string, overrides: Partial<Record<ConfigKey, unknown>> = {}) {
  const config = await loadConfig({ cwd, env: {}, noConfigFile: true, overrides: { serializationBackend: 'testjson', ...overrides } });
  return bootKernel({ config, plugins: [testSerializer, sqlitePlugin], logger: createLogger({ level: 'silent' }) });
}

describe('sqlite plugin in the kernel', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('says once, naming the file, when the database folder cannot be created', async () => {
    writeFileSync(path.join(tmp.dir, 'blocker'), 'a file where a folder should be');
    const kernel = await boot(tmp.dir, { sqlitePath: 'blocker/nuvom.db' });
    try {
      let err: unknown;
      try { kernel.resolve('queue'); } catch (e) { err = e; }
      expect(isNuvomError(err, 'NUVOM_E_STORAGE'), String(err)).to.equal(true);
      const msg = (err as Error).message;
      expect(msg).to.include('blocker/nuvom.db').and.include('NUVOM_SQLITE_PATH');
      expect(msg.match(/could not/g)?.length, msg).to.equal(1);
    } finally {
      await kernel.stop();
    }
  });

  it('opens no file until a service is resolved', async () => {
    const kernel = await boot(tmp.dir);
    try {
      expect(existsSync(path.join(tmp.dir, '.nuvom'))).to.equal(false);
    } finally {
      await kernel.stop();
    }
  });

  it('serves queue, result store and schedule store from one shared file by default, closed on stop', async () => {
    const kernel = await boot(tmp.dir);
    const file = path.join(tmp.dir, '.nuvom', 'nuvom.db');
    try {
      const queue = kernel.resolve('queue');
      const results = kernel.resolve('resultStore');
      kernel.resolve('scheduleStore');
      // One row per job: the record of a queued job reads its arguments from the queued bytes.
      await queue.enqueue(queuedJob({ id: 'j1', args: jsonSerializer.encode(['hello']) }));
      const record = jobRecord({ id: 'j1', args: ['hello'] });
      await results.put(record);
      expect(await results.getFull('j1')).to.deep.equal(record);
      expect(existsSync(file)).to.equal(true);
      expect(openFiles().filter((f) => f === file)).to.have.length(1);
    } finally {
      await kernel.stop();
    }
    expect(openFiles()).to.not.include(file);
  });

  it('puts the queue in its own file when sqliteQueuePath says so', async () => {
    const kernel = await boot(tmp.dir, { sqliteQueuePath: 'q/queue.db', sqliteResultPath: 'r/results.db' });
    try {
      await kernel.resolve('queue').enqueue(queuedJob());
      await kernel.resolve('resultStore').put(jobRecord());
      expect(existsSync(path.join(tmp.dir, 'q', 'queue.db'))).to.equal(true);
      expect(existsSync(path.join(tmp.dir, 'r', 'results.db'))).to.equal(true);
    } finally {
      await kernel.stop();
    }
  });
});
