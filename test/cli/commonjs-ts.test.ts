/**
 * A CommonJS project (package.json without "type": "module") running a `.ts` task (issue 15): Node
 * loads the file as CommonJS and refuses its import of nuvom with a raw ERR_REQUIRE_CYCLE_MODULE.
 * The job's error must say what to change (`.mts`, or "type": "module"), and the `.mts` way must work.
 */
import { expect } from 'chai';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { tempProject } from '../helpers/tmp.ts';
import { cleanupTempProjects, killAll, nuvom, type Project } from './helpers.ts';

const TASK = `import { task } from 'nuvom';
export const add = task({ name: 'add' }, (a: number, b: number) => a + b);
`;

async function runOne(p: Project): Promise<string> {
  for (const args of [['discover', 'tasks'], ['enqueue', 'add', '1', '2']]) {
    const r = await nuvom(p, args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
  }
  const id = (await nuvom(p, ['history', 'recent', '--json'])).stdout;
  const w = await nuvom(p, ['runworker', '--burst', '--threads', '1']);
  expect(w.code, w.stderr).to.equal(0);
  const s = await nuvom(p, ['status', (JSON.parse(id) as Array<{ id: string }>)[0]!.id]);
  return s.stdout;
}

describe('cli: a .ts task in a CommonJS project', function () {
  this.timeout(90_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it('fails the job with an error that says to use .mts or "type": "module", and .mts then runs', async () => {
    const dir = tempProject({ 'package.json': '{ "name": "cjs-app", "version": "1.0.0" }', 'tasks.ts': TASK }, { linkNuvom: true });
    const p: Project = { dir, env: { NUVOM_SQLITE_PATH: path.join(dir, '.nuvom', 'cli-test.db') } };
    const failed = await runOne(p);
    expect(failed).to.match(/ add FAILED attempts=1 error=NuvomError: tasks\.ts is TypeScript in a CommonJS package: rename it to \.mts, or add "type": "module" to package\.json \(.*ERR_REQUIRE_CYCLE_MODULE/);
    expect(failed).not.to.match(/Cannot require\(\) ES Module/);

    renameSync(path.join(dir, 'tasks.ts'), path.join(dir, 'tasks.mts'));
    const ok = await runOne(p);
    expect(ok).to.match(/ add SUCCESS attempts=1 result=3\n$/);
  });
});
