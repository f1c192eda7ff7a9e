import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cleanupTempProjects, REPO_ROOT, tempProject, waitFor } from '../helpers/tmp.ts';
import { testClient } from '../helpers/client.ts';

const run = promisify(execFile);
const NUVOM = path.join(REPO_ROOT, 'bin/nuvom.js');

/** A third-party plugin written against `nuvom/plugin` only (this repo's build, through node_modules). */
const PLUGIN = `
import { appendFileSync } from 'node:fs';
import { definePlugin, type Serializer } from 'nuvom/plugin';

const log = (line: string) => appendFileSync(process.env.AUDIT_LOG ?? '/dev/null', line + '\\n');

class TaggedJson implements Serializer {
  readonly name = 'tagged-json';
  encode(v: unknown) { log('encode'); return new TextEncoder().encode('TAG' + JSON.stringify(v)); }
  decode(b: Uint8Array) { const s = new TextDecoder().decode(b); if (!s.startsWith('TAG')) throw new Error('untagged'); return JSON.parse(s.slice(3)); }
}

export const AuditPlugin = definePlugin({
  name: 'acme-audit',
  apiVersion: 1,
  provides: ['serializer:tagged-json', 'monitoring'],
  register(ctx) {
    ctx.provide('serializer', 'tagged-json', () => new TaggedJson());
    ctx.hooks.enqueue.tapPromise('acme-audit', async (job) => ({ ...job, meta: { ...job.meta, auditedBy: 'acme' } }));
    ctx.hooks.jobSucceeded.tap('acme-audit', (e) => log('succeeded ' + e.taskName));
    log('register');
  },
  start(settings) { log('start ' + JSON.stringify(settings)); },
  stop() { log('stop'); },
});
`;

describe('a third-party plugin', function () {
  this.timeout(60_000);
  after(cleanupTempProjects);

  function project() {
    const dir = tempProject({
      'package.json': '{ "name": "acme-app", "type": "module" }',
      'plugins/audit.ts': PLUGIN,
      'tasks.ts': "import { task } from 'nuvom';\nexport const add = task({ name: 'add' }, async (a: number, b: number) => a + b);\n",
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/audit.ts:AuditPlugin"]\n\n[settings.acme-audit]\nlevel = "strict"\n',
    }, { linkNuvom: true });
    for (const dep of ['chai', 'tsx']) symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), 'dir');
    return dir;
  }

  it('replaces a built-in service chosen by config, taps hooks, gets its settings, starts and stops in order', async () => {
    const dir = project();
    const auditLog = path.join(dir, 'audit.log');
    process.env.AUDIT_LOG = auditLog;
    try {
      const client = await testClient({ cwd: dir, config: { serializationBackend: 'tagged-json' } });
      const { add } = await import(path.join(dir, 'tasks.ts'));
      const worker = await client.startWorker({ threads: 1 });
      const h = await add.delay(2, 3);
      expect(await h.result({ timeoutSecs: 20 })).to.equal(5);
      await waitFor(() => readFileSync(auditLog, 'utf8').includes('succeeded add'), { what: 'the jobSucceeded tap' });
      await worker.stop();
      await client.close();
      const lines = readFileSync(auditLog, 'utf8').trim().split('\n');
      expect(lines[0]).to.equal('register');
      expect(lines[1]).to.equal('start {"level":"strict"}');
      expect(lines).to.include('encode');
      expect(lines.at(-1)).to.equal('stop');
    } finally {
      delete process.env.AUDIT_LOG;
    }
  });

  it('passes `nuvom plugin test`, and a broken plugin fails it with the reason', async () => {
    const dir = project();
    const ok = await run('node', [NUVOM, 'plugin', 'test', './plugins/audit.ts:AuditPlugin'], { cwd: dir, env: { ...process.env, AUDIT_LOG: path.join(dir, 'a.log') } });
    expect(ok.stdout).to.contain('all checks passed');
    const bad = tempProject({ 'bad.mjs': 'export default { name: "bad", apiVersion: 1, start() { throw new Error("cannot reach the server"); } };' });
    const err = await run('node', [NUVOM, 'plugin', 'test', './bad.mjs'], { cwd: bad }).catch((e) => e);
    expect(err.code).to.equal(1);
    expect(err.stdout).to.contain('FAIL registers and starts').and.contain('cannot reach the server');
  });

  it('scaffolds a plugin whose test passes as written and which passes `nuvom plugin test`', async () => {
    const dir = project();
    for (const cap of ['queue_backend', 'monitoring']) {
      const name = `my-${cap.split('_')[0]}`;
      await run('node', [NUVOM, 'plugin', 'scaffold', name, '--capability', cap], { cwd: dir });
      const mocha = path.join(REPO_ROOT, 'node_modules/.bin/mocha');
      const res = await run(mocha, ['--no-config', '--node-option', 'import=tsx', '--extension', 'ts', `plugins/${name}.test.ts`], { cwd: dir });
      expect(res.stdout, cap).to.match(/passing/).and.not.match(/failing/);
      const pt = await run('node', [NUVOM, 'plugin', 'test', `./plugins/${name}.ts`], { cwd: dir });
      expect(pt.stdout, cap).to.contain('all checks passed');
    }
  });
});
