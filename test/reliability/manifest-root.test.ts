/**
 * A hand-edited manifest whose `root` is another folder (issue 14.7): doctor, runworker and enqueue
 * refuse it with NUVOM_E_MANIFEST naming both folders and the fix, and no module from the other
 * folder is imported. Real `nuvom` processes on a real project.
 * Must never: leave a worker running (every one is awaited or killed).
 */
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/tmp.ts';
import { STACK, cleanupTempProjects, killAll, project, runNuvom } from './helpers.ts';

const TASKS = `
export const slow = task({ name: 'slow' }, async () => { effect(); return 1; });
`;

describe('a manifest whose root is another folder (14.7)', function () {
  this.timeout(120_000);
  afterEach(killAll);
  after(cleanupTempProjects);

  function pointElsewhere(): { dir: string; other: string; marker: string } {
    const dir = project(TASKS, [{ name: 'slow' }]);
    // The other folder's module leaves a marker when imported: the proof that it was not.
    const other = tempProject({
      'package.json': '{ "type": "module" }',
      'tasks.mjs': `import { writeFileSync } from 'node:fs';\nwriteFileSync(new URL('./imported', import.meta.url), 'yes');\nexport const slow = () => 1;\n`,
    });
    const file = path.join(dir, '.nuvom/manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { root: string };
    manifest.root = other;
    writeFileSync(file, JSON.stringify(manifest, null, 2));
    return { dir, other, marker: path.join(other, 'imported') };
  }

  it('doctor reports it as FAIL naming both folders and `nuvom discover tasks`, not "up to date"', async () => {
    const { dir, other } = pointElsewhere();
    const r = await runNuvom(dir, ['doctor']);
    const line = r.out.split('\n').find((l) => l.slice(6).startsWith('manifest:')) ?? '';
    expect(line, r.out).to.match(/^FAIL/).and.include(other).and.include(dir).and.include('nuvom discover tasks');
    expect(line).not.to.include('up to date');
    expect(r.code).to.equal(1);
    expect(r.err + r.out).not.to.match(STACK);
  });

  it('runworker and enqueue refuse it with NUVOM_E_MANIFEST and never import the outside module', async () => {
    const { dir, other, marker } = pointElsewhere();
    const enq = await runNuvom(dir, ['enqueue', 'slow']);
    expect(enq.code, enq.out + enq.err).not.to.equal(0);
    expect(enq.err).to.include('NUVOM_E_MANIFEST').and.include(other).and.include('nuvom discover tasks');
    const w = await runNuvom(dir, ['runworker', '--threads', '1', '--burst']);
    expect(w.code, w.out + w.err).not.to.equal(0);
    expect(w.err + w.out).to.include('NUVOM_E_MANIFEST').and.include(other);
    expect(w.err + w.out).not.to.match(STACK);
    expect(existsSync(marker), 'the outside module was imported').to.equal(false);
    expect(readFileSync(path.join(dir, '.nuvom/manifest.json'), 'utf8'), 'the manifest was silently rewritten').to.include(other);
  });

  it('`nuvom discover tasks` rebuilds it with the project root, after which the worker runs the job', async () => {
    const { dir, marker } = pointElsewhere();
    const d = await runNuvom(dir, ['discover', 'tasks']);
    expect(d.code, d.err).to.equal(0);
    expect((JSON.parse(readFileSync(path.join(dir, '.nuvom/manifest.json'), 'utf8')) as { root: string }).root).to.equal(dir);
    expect((await runNuvom(dir, ['enqueue', 'slow'])).code).to.equal(0);
    const w = await runNuvom(dir, ['runworker', '--threads', '1', '--burst']);
    expect(w.code, w.err).to.equal(0);
    expect(existsSync(marker)).to.equal(false);
  });
});
