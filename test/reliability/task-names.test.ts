/**
 * Control characters in task names (issue 14.9): C0 (incl. ESC and newline), DEL and C1 are refused
 * wherever a name enters: task(), enqueue by name (client and CLI), a manifest (discovery's reader and
 * the registry), and the discovery scan. Errors show the name escaped, so printing them is safe.
 * Must never: leave a process or client open (killed or closed in the hooks).
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadManifest } from '../../builtin-plugins/discovery/manifest.ts';
import { scanFile } from '../../builtin-plugins/discovery/scan.ts';
import { escapedName } from '../../sdk/task-names.ts';
import { isNuvomError, task, type Client } from '../../sdk/index.ts';
import { STACK, allRecords, cleanupTempProjects, killAll, openClient, project, runNuvom } from './helpers.ts';

const BAD = ['esc\u001b[2Jname', 'two\nlines', 'nul\u0000', 'tab\tname', 'del\u007f', 'c1\u009bname'];
const TASKS = `
export const slow = task({ name: 'slow' }, async () => { effect(); return 1; });
`;

function thrown(fn: () => unknown): unknown {
  try { fn(); } catch (err) { return err; }
  throw new Error('expected an error');
}

describe('control characters in task names (14.9)', function () {
  this.timeout(120_000);
  const clients: Client[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(cleanupTempProjects);

  it('task() refuses them with NUVOM_E_TASK_INVALID showing the name escaped', () => {
    for (const name of BAD) {
      const err = thrown(() => task({ name }, async () => 1));
      expect(isNuvomError(err, 'NUVOM_E_TASK_INVALID'), String(err)).to.equal(true);
      expect((err as Error).message).to.include(escapedName(name)).and.include('control character');
      expect((err as Error).message).not.to.match(/[\u0000-\u001f\u007f-\u009f]/);
    }
    expect(task({ name: 'ünïcode.näme-ok' }, async () => 1).name).to.equal('ünïcode.näme-ok');
  });

  it('client.enqueue and `nuvom enqueue` refuse them and enqueue nothing', async () => {
    const dir = project(TASKS, [{ name: 'slow' }]);
    const client = await openClient(dir);
    clients.push(client);
    for (const name of BAD) {
      let err: unknown;
      try { await client.enqueue(name, []); } catch (e) { err = e; }
      expect(isNuvomError(err, 'NUVOM_E_TASK_INVALID'), String(err)).to.equal(true);
      expect((err as Error).message).to.include(escapedName(name));
    }
    const r = await runNuvom(dir, ['enqueue', 'esc\u001b[2Jname']);
    expect(r.code, r.out + r.err).not.to.equal(0);
    expect(r.err).to.include('NUVOM_E_TASK_INVALID').and.include(JSON.stringify('esc\u001b[2Jname'));
    expect(r.err + r.out, 'the raw ESC reached the terminal').not.to.include('\u001b[2J');
    expect(r.err + r.out).not.to.match(STACK);
    expect(await allRecords(client)).to.have.length(0);
  });

  it('a manifest naming one is refused by discovery and by the registry (`nuvom enqueue`)', async () => {
    const dir = project(TASKS, [{ name: 'slow' }]);
    const file = path.join(dir, '.nuvom/manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { tasks: Array<{ name: string }>; files: Record<string, { tasks: string[] }> };
    manifest.tasks[0]!.name = 'slow\u001b]0;owned\u0007';
    manifest.files['tasks.mjs']!.tasks = [manifest.tasks[0]!.name];
    writeFileSync(file, JSON.stringify(manifest));
    const err = thrown(() => loadManifest(file));
    expect(isNuvomError(err, 'NUVOM_E_MANIFEST'), String(err)).to.equal(true);
    expect((err as Error).message).to.include('control character').and.include(JSON.stringify(manifest.tasks[0]!.name));
    const r = await runNuvom(dir, ['enqueue', 'slow']);
    expect(r.code, r.out + r.err).not.to.equal(0);
    expect(r.err).to.include('NUVOM_E_MANIFEST').and.include('control character');
    expect(r.err + r.out).not.to.include('\u001b]0;');
  });

  it('the discovery scan reports a literal name with one as a problem and leaves it out', () => {
    const r = scanFile('tasks.ts', "import { task } from 'nuvom';\nexport const x = task({ name: 'a\\u001bb' }, async () => 1);\n");
    expect(r.tasks).to.have.length(0);
    expect(r.problems).to.have.length(1);
    expect(r.problems[0]!.message).to.include('control character').and.include('"a\\u001bb"');
  });
});
