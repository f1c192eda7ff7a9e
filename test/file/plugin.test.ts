/** The file plugin through the kernel: chosen by config, directories from fileQueueDir / fileResultDir. */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import filePlugin from '../../builtin-plugins/file/index.ts';
import memoryPlugin from '../../builtin-plugins/memory/index.ts';
import serializers from '../../builtin-plugins/serializers/index.ts';
import { bootKernel, createLogger, loadConfig, type Kernel } from '../../sdk/plugin.ts';
import { makeJobRecord, makeQueuedJob } from '../../sdk/testing/index.ts';
import { tempDirs } from './helpers.ts';

describe('file plugin', () => {
  const dirs = tempDirs('nuvom-file-plugin-');
  let kernel: Kernel | undefined;

  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
    dirs.cleanup();
  });

  async function boot(cwd: string, overrides: Record<string, unknown>): Promise<Kernel> {
    const config = await loadConfig({ cwd, env: {}, noConfigFile: true, overrides });
    kernel = await bootKernel({ config, builtins: [serializers, memoryPlugin, filePlugin], logger: createLogger({ level: 'silent' }) });
    return kernel;
  }

  it('provides queue "file" and resultStore "file" under the configured directories', async () => {
    const cwd = dirs.make();
    const k = await boot(cwd, { queueBackend: 'file', resultBackend: 'file', serializationBackend: 'json', fileQueueDir: 'q', fileResultDir: 'r' });
    const queue = k.resolve('queue');
    await queue.enqueue(makeQueuedJob());
    expect(await queue.qsize()).to.equal(1);
    expect(fs.readdirSync(path.join(cwd, 'q', 'ready'))).to.have.length(1);
    const store = k.resolve('resultStore');
    const record = makeJobRecord();
    await store.put(record);
    expect(await store.getFull(record.id)).to.deep.equal(record);
    expect(fs.existsSync(path.join(cwd, 'r', 'results.jsonl'))).to.equal(true);
  });

  it('opens no directory when config chooses other backends', async () => {
    const cwd = dirs.make();
    await boot(cwd, { queueBackend: 'memory', resultBackend: 'memory' });
    expect(fs.readdirSync(cwd)).to.deep.equal([]);
  });
});
