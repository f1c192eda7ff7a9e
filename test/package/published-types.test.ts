/**
 * The published declarations compile in a user's project with `skipLibCheck: false` (issue 15): a
 * scratch project gets the built package as npm would install it (package.json and dist/*.d.ts
 * copied, its runtime dependencies beside it, none of nuvom's devDependencies such as
 * @types/better-sqlite3), and `tsc` checks a file importing every public entry point. Once without
 * @types/node (every entry but the dashboard, whose handler takes node:http's request and response),
 * once with it (every entry). Needs dist/: `npm run build` (npm test builds first).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, cleanupTempProjects, tempProject } from '../helpers/tmp.ts';

const DIST = path.join(REPO_ROOT, 'dist');
const TSC = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/** Copies the .d.ts files of `from` into `to` (real files: tsc must not follow a link back into the repo). */
function copyDeclarations(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) copyDeclarations(path.join(from, e.name), path.join(to, e.name));
    else if (e.name.endsWith('.d.ts')) copyFileSync(path.join(from, e.name), path.join(to, e.name));
  }
}

/** A project with nuvom installed from dist/, its dependencies linked, and `check.ts` importing `entries`. */
function scratch(entries: string[], withNodeTypes: boolean): string {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const imports = entries.map((e, i) => `import * as e${i} from '${e}';`).join('\n');
  const dir = tempProject({
    'package.json': '{ "type": "module" }',
    'tsconfig.json': JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: withNodeTypes ? ['node'] : [] }, files: ['check.ts'] }),
    'check.ts': `${imports}\nexport const all = [${entries.map((_, i) => `e${i}`).join(', ')}];\n`,
  });
  const nm = path.join(dir, 'node_modules');
  mkdirSync(path.join(nm, 'nuvom'), { recursive: true });
  copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(nm, 'nuvom/package.json'));
  copyDeclarations(DIST, path.join(nm, 'nuvom/dist'));
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(path.dirname(path.join(nm, dep)), { recursive: true });
    symlinkSync(path.join(REPO_ROOT, 'node_modules', dep), path.join(nm, dep), 'dir');
  }
  if (withNodeTypes) {
    mkdirSync(path.join(nm, '@types'), { recursive: true });
    symlinkSync(path.join(REPO_ROOT, 'node_modules/@types/node'), path.join(nm, '@types/node'), 'dir');
  }
  return dir;
}

function tsc(dir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, '-p', dir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('package: published declarations', function () {
  this.timeout(180_000);
  after(cleanupTempProjects);

  it('compile with skipLibCheck false, without @types/better-sqlite3, and without @types/node outside the dashboard', async () => {
    if (!existsSync(path.join(DIST, 'sdk/index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first (npm test builds)');
    const plugins = readdirSync(path.join(DIST, 'builtin-plugins'), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(path.join(DIST, 'builtin-plugins', e.name, 'index.d.ts'))).map((e) => `nuvom/plugins/${e.name}`);
    expect(plugins).to.include('nuvom/plugins/sqlite');
    const all = ['nuvom', 'nuvom/plugin', 'nuvom/testing', ...plugins];
    const [bare, node] = await Promise.all([
      tsc(scratch(all.filter((e) => e !== 'nuvom/plugins/dashboard'), false)),
      tsc(scratch(all, true)),
    ]);
    expect(bare.out, 'without @types/node').to.equal('');
    expect(bare.code).to.equal(0);
    expect(node.out, 'with @types/node').to.equal('');
    expect(node.code).to.equal(0);
  });
});
