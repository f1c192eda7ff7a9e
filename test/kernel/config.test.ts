import { expect } from 'chai';
import defaultPreset from '../../presets/default/index.ts';
import { loadConfig as load, resolvePreset, type LoadConfigOptions } from '../../sdk/plugin.ts';
import { cleanupTempProjects, tempProject } from '../helpers/tmp.ts';

// The built-ins' settings (batchSize, sqlitePath, ...) are declared by their plugins.
const { plugins: builtinPlugins } = await resolvePreset(defaultPreset);
const loadConfig = (o: LoadConfigOptions) => load({ plugins: builtinPlugins, ...o });

describe('configuration', () => {
  after(cleanupTempProjects);

  it('uses the documented defaults, each marked as a default', async () => {
    const c = await loadConfig({ cwd: tempProject(), env: {} });
    expect(c.queueBackend).to.equal('sqlite');
    expect(c.serializationBackend).to.equal('msgpack');
    expect(c.batchSize).to.equal(500);
    expect(c.jobTimeoutSecs).to.equal(30);
    expect(c.sqliteQueuePath).to.equal('.nuvom/nuvom.db');
    expect(c.sources.queueBackend.source).to.equal('default');
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it('ranks flag over environment over .env over config file over default', async () => {
    const dir = tempProject({
      'nuvom.config.json': JSON.stringify({ batchSize: 2, jobTimeoutSecs: 7, logLevel: 'warn', queueBackend: 'file' }),
      '.env': 'NUVOM_BATCH_SIZE=3\nNUVOM_JOB_TIMEOUT_SECS=8\n',
      'package.json': '{"name":"x"}',
    });
    const c = await loadConfig({ cwd: dir, env: { NUVOM_BATCH_SIZE: '4' }, flags: { batchSize: 5 } });
    expect(c.batchSize).to.equal(5);
    expect(c.sources.batchSize.source).to.equal('flag');
    const c2 = await loadConfig({ cwd: dir, env: { NUVOM_BATCH_SIZE: '4' } });
    expect(c2.batchSize).to.equal(4);
    expect(c2.sources.batchSize).to.deep.include({ source: 'env', origin: 'NUVOM_BATCH_SIZE' });
    expect(c2.jobTimeoutSecs).to.equal(8);
    expect(c2.sources.jobTimeoutSecs.source).to.equal('.env');
    expect(c2.logLevel).to.equal('warn');
    expect(c2.sources.logLevel.source).to.equal('file');
    expect(c2.queueBackend).to.equal('file');
  });

  it('reads a TypeScript config file', async () => {
    const dir = tempProject({ 'nuvom.config.ts': 'const n: number = 3;\nexport default { batchSize: n * 2 };\n', 'package.json': '{"name":"x"}' });
    const c = await loadConfig({ cwd: dir, env: {} });
    expect(c.batchSize).to.equal(6);
  });

  it('finds the config in package.json\'s "nuvom" key, and a file in a folder above the working one up to the package root', async () => {
    const inPackage = tempProject({ 'package.json': JSON.stringify({ name: 'x', nuvom: { batchSize: 4 } }) });
    expect((await loadConfig({ cwd: inPackage, env: {} })).batchSize).to.equal(4);
    const above = tempProject({ '.nuvomrc.yaml': 'batchSize: 5\n', 'package.json': '{"name":"x"}', 'src/jobs/.keep': '' });
    expect((await loadConfig({ cwd: `${above}/src/jobs`, env: {} })).batchSize).to.equal(5);
    // Past the package root (the first folder up with a package.json) nothing is read.
    const nested = tempProject({ 'nuvom.config.json': '{"batchSize": 6}', 'app/package.json': '{"name":"y"}' });
    const c = await loadConfig({ cwd: `${nested}/app`, env: {} });
    expect(c.batchSize).not.to.equal(6);
    expect(c.sources.batchSize.source).to.equal('default');
  });

  it('rejects a bad value naming the variable and what it expects', async () => {
    const err = await loadConfig({ cwd: tempProject(), env: { NUVOM_BATCH_SIZE: 'ten' } }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_CONFIG');
    expect(err.message).to.contain('NUVOM_BATCH_SIZE').and.contain('expected a number');
    const policy = await loadConfig({ cwd: tempProject(), env: { NUVOM_TIMEOUT_POLICY: 'sometimes' } }).catch((e) => e);
    expect(policy.message).to.contain('retry, fail, ignore');
  });

  it('rejects an unknown key in the config file with a suggestion', async () => {
    const dir = tempProject({ '.nuvomrc.json': JSON.stringify({ batchsize: 3 }), 'package.json': '{"name":"x"}' });
    const err = await loadConfig({ cwd: dir, env: {} }).catch((e) => e);
    expect(err.message).to.contain('"batchsize" (did you mean "batchSize"?)');
  });

  it('reports a TOML syntax error with file, line and column', async () => {
    const dir = tempProject({ '.nuvom_plugins.toml': '[plugins]\nqueue_backend = ["./x.ts"\n' });
    const err = await loadConfig({ cwd: dir, env: {} }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_CONFIG_FILE');
    expect(err.message).to.match(/\.nuvom_plugins\.toml:\d+:\d+: invalid TOML/);
  });

  it('reads plugin lists and settings tables from .nuvom_plugins.toml', async () => {
    const dir = tempProject({ '.nuvom_plugins.toml': '[plugins]\nqueue_backend = ["./plugins/q.ts:Q"]\nresult_backend = ["@acme/nuvom-s3"]\n\n[settings.my_queue]\npath = ".nuvom/custom"\n' });
    const c = await loadConfig({ cwd: dir, env: {} });
    expect(c.plugins).to.deep.equal({ queue_backend: ['./plugins/q.ts:Q'], result_backend: ['@acme/nuvom-s3'] });
    expect(c.pluginSettings.my_queue).to.deep.equal({ path: '.nuvom/custom' });
  });

  it('derives the split SQLite paths from NUVOM_SQLITE_PATH unless set', async () => {
    const c = await loadConfig({ cwd: tempProject(), env: { NUVOM_SQLITE_PATH: 'data/q.db', NUVOM_SQLITE_RESULT_PATH: 'data/r.db' } });
    expect(c.sqliteQueuePath).to.equal('data/q.db');
    expect(c.sources.sqliteQueuePath.source).to.equal('derived');
    expect(c.sqliteResultPath).to.equal('data/r.db');
  });
});
