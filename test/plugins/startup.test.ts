/**
 * Start-up cost: an application on the default preset loads the definitions of the plugins it boots,
 * not the implementations only their commands need. A client that enqueues a job and runs it on a
 * worker thread loads neither the discovery parser (oxc-parser, a native addon) nor the conformance
 * kit (`nuvom/testing`, which only `nuvom plugin test` runs).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cleanupTempProjects, REPO_ROOT, tempProject } from '../helpers/tmp.ts';

const run = promisify(execFile);

describe('start-up of a programmatic client', function () {
  this.timeout(60_000);
  after(cleanupTempProjects);

  it('a client that creates a job and runs a worker loads neither oxc-parser nor the conformance kit', async () => {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NUVOM_')) clean[k] = v;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/plugins/fixtures/lean-app.ts')], {
      cwd: REPO_ROOT, env: { ...clean, LEAN_CWD: tempProject() },
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out.modules, 'the load hook saw nuvom load').to.be.greaterThan(20);
    expect(out).to.deep.include({ sum: 5, oxcParser: false, conformanceKit: false });
  });

  it('the build leaves no dynamic import of a .ts module (the lazy loads work from dist/)', () => {
    // tsc's rewriteRelativeImportExtensions skips an import() inside `export default <expression>`.
    const dist = path.join(REPO_ROOT, 'dist');
    const files = (readdirSync(dist, { recursive: true }) as string[]).filter((f) => f.endsWith('.js'));
    expect(files.length, 'run `npm run build` first').to.be.greaterThan(50);
    const bad = files.filter((f) => /\bimport\(\s*['"]\.{1,2}\/[^'"]*\.ts['"]\s*\)/.test(readFileSync(path.join(dist, f), 'utf8')));
    expect(bad).to.deep.equal([]);
  });
});
