import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { BIN, cleanupTempProjects, failedWith, json, killAll, nuvom, project, type Project } from './helpers.ts';

/** Runs the binary with no --cwd from `dir`, as a user in a subfolder would. */
function from(dir: string, args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NUVOM_'))) as Record<string, string>;
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: one grammar, the project root, read-only commands', function () {
  this.timeout(90_000);
  let p: Project;

  before(async () => {
    p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
  });
  after(() => { killAll(); cleanupTempProjects(); });

  it('from a subfolder, config names the nearest package.json folder as the root, and a read-only command creates no database', () => {
    const sub = path.join(p.dir, 'src', 'deep');
    mkdirSync(sub, { recursive: true });
    const c = from(sub, ['config']);
    expect(c.code, c.stderr).to.equal(0);
    expect(c.stdout.split('\n')[0]).to.match(new RegExp(`^projectRoot +${p.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +nearest package.json( and .nuvom/)? above `));
    const h = from(sub, ['history', 'recent']);
    failedWith(h, 1, /no nuvom database at .*nuvom\.db.*The project root is .*NUVOM_E_NO_DATABASE/);
    expect(existsSync(path.join(sub, '.nuvom'))).to.equal(false);
    expect(existsSync(path.join(p.dir, '.nuvom', 'nuvom.db'))).to.equal(false);
  });

  it('config labels a config file value "config file (path)"', async () => {
    const q = project({ 'nuvom.config.json': '{ "batchSize": 7 }' });
    const r = await nuvom(q, ['config']);
    expect(r.stdout).to.match(/^batchSize +7 +config file \(.*nuvom\.config\.json\)$/m);
  });

  it('--version and -V print the version; --log-level loud is a usage error, exit 2', async () => {
    const [v, V, bad] = await Promise.all([nuvom(p, ['--version']), nuvom(p, ['-V']), nuvom(p, ['--log-level', 'loud', 'version'])]);
    expect(v.code).to.equal(0);
    expect(v.stdout).to.match(/^\d+\.\d+\.\d+\n$/);
    expect(V.stdout).to.equal(v.stdout);
    failedWith(bad, 2, '--log-level must be one of debug, info, warn, error, silent, got "loud"');
  });

  it('enqueue --json and status --json print JSON; status of a FAILED job exits 1 with --json too', async () => {
    const e = await json<{ id: string; taskName: string; status: string }>(p, ['enqueue', 'boom', '"bad"', '--json']);
    expect(e).to.deep.include({ taskName: 'boom', status: 'PENDING' });
    const s = await json<{ id: string; status: string }>(p, ['status', e.id, '--json']);
    expect(s).to.deep.include({ id: e.id, status: 'PENDING' });
    const run = await nuvom(p, ['runworker', '--burst']);
    expect(run.code, run.stderr).to.equal(0);
    const f = await nuvom(p, ['status', e.id, '--json']);
    expect(f.code).to.equal(1);
    expect(JSON.parse(f.stdout)).to.deep.include({ status: 'FAILED' });
  });

  it('retry <id> and cancel <id> take the id directly; retry jobs --status FAILED retries every failed job', async () => {
    const a = (await nuvom(p, ['enqueue', 'boom', '"x"'])).stdout.trim();
    const b = (await nuvom(p, ['enqueue', 'boom', '"y"'])).stdout.trim();
    expect((await nuvom(p, ['runworker', '--burst'])).code).to.equal(0);
    const r = await nuvom(p, ['retry', a]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`retried ${a} (task boom): PENDING\n`);
    const c = await nuvom(p, ['cancel', a]);
    expect(c.code, c.stderr).to.equal(0);
    expect(c.stdout).to.equal(`cancelled ${a}\n`);
    const bulk = await json<string[]>(p, ['retry', 'jobs', '--status', 'failed', '--task', 'boom', '--json']);
    expect(bulk).to.include(b);
    expect(bulk).to.not.include(a); // CANCELLED is not asked for
    const again = await json<{ status: string }>(p, ['status', b, '--json']);
    expect(again.status).to.equal('PENDING');
  });

  it('retry, cancel, history purge and schedule cancel print JSON with --json, wherever it is written', async () => {
    const a = (await nuvom(p, ['enqueue', 'boom', '"j"'])).stdout.trim();
    expect((await nuvom(p, ['runworker', '--burst'])).code).to.equal(0);
    expect(await json(p, ['retry', a, '--json'])).to.deep.equal({ id: a, taskName: 'boom', status: 'PENDING' });
    expect(await json(p, ['cancel', '--json', a])).to.deep.equal({ id: a, outcome: 'cancelled' });
    expect(await json(p, ['retry', '--json', 'job', a])).to.deep.equal({ id: a, taskName: 'boom', status: 'PENDING' });
    expect(await json(p, ['cancel', 'job', a, '--json'])).to.deep.equal({ id: a, outcome: 'cancelled' });
    expect(await json(p, ['retry', 'jobs', '--status', 'cancelled', '--json'])).to.include(a);
    expect(await json(p, ['history', 'purge', '--older-than', '30d', '--json'])).to.deep.equal({ deleted: 0, statuses: ['SUCCESS', 'FAILED', 'CANCELLED'], olderThan: '30d' });
    const missing = await nuvom(p, ['schedule', 'cancel', 'no-such-schedule', '--json']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('NUVOM_E_SCHEDULE_NOT_FOUND');
  });

  it('plugin status shows each plugin\'s version and keeps its columns aligned when the name and source are long (a local path)', async () => {
    const q = project({
      'plugins/a-rather-long-folder-name/audit-plugin.mjs': "export default { name: 'acme-audit-with-a-long-name', apiVersion: 1, version: '1.2.3', provides: ['monitoring'], register() {} };\n",
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/a-rather-long-folder-name/audit-plugin.mjs"]\n',
    });
    const r = await nuvom(q, ['plugin', 'status']);
    expect(r.code, r.stderr).to.equal(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('acme-audit-with-a-long-name'));
    expect(line).to.match(/^acme-audit-with-a-long-name {2,}1\.2\.3 {2,}started {2,}\S+ {2,}monitoring$/);
    // A plugin that declares no version shows "-".
    expect(r.stdout).to.match(/^nuvom-cli-core {2,}- {2,}started {2,}builtin {2,}cli$/m);
    // Every row's version, state and provides columns start where the others' do.
    const rows = r.stdout.trimEnd().split('\n');
    const at = (l: string, n: number) => { const m = [...l.matchAll(/ {2,}\S/g)][n]; return m ? m.index + m[0].length : -1; };
    for (const n of [0, 1, 3]) expect(new Set(rows.map((l) => at(l, n))).size, rows.join('\n')).to.equal(1);
  });
});
