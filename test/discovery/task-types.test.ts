import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { addDiscoveryCommands } from '../../builtin-plugins/discovery/cli.ts';
import type { NuvomConfig } from '../../sdk/plugin.ts';
import { REPO_ROOT } from '../helpers/tmp.ts';
import { tempProject, type TempProject } from './helpers.ts';

/** `nuvom discover tasks ...args` in this process, as cli.test.ts runs it. */
async function discover(p: TempProject, ...args: string[]) {
  const out = { text: '', write(s: string) { this.text += s; return true; } };
  const err = { text: '', write(s: string) { this.text += s; return true; } };
  const program = new Command('nuvom').exitOverride();
  addDiscoveryCommands(program, { cwd: p.root, manifestPath: '.nuvom/manifest.json' } as unknown as NuvomConfig, { stdout: out, stderr: err });
  await program.parseAsync(['discover', 'tasks', ...args], { from: 'user' });
  return { stdout: out.text, stderr: err.text };
}

/** Runs the real TypeScript compiler on the project; resolves with its diagnostics, one string per error. */
function tsc(dir: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { text += s; });
    child.on('error', reject);
    child.on('close', () => resolve(text.split('\n').filter((l) => /\): error TS\d+/.test(l))));
  });
}

const TASKS = `import { task } from 'nuvom';
export const add = task({ name: 'add' }, async (x: number, y: number) => x + y);
export async function syncCrm(accountId: string, opts?: { full: boolean }) { return { synced: accountId, full: opts?.full ?? false }; }
export const syncCrmTask = task({ retries: 1 }, syncCrm);
export default task({ name: 'cleanup' }, async () => {});
export class Mailer {
  @task({ name: 'mail.send' }) async send(to: string, subject: string) { return to.length + subject.length; }
}
`;

/** An API server's code: it imports only the client, never src/tasks.ts. */
const API_OK = `import { createClient } from 'nuvom';
const client = await createClient();
const h = await client.enqueue('add', [1, 2]);
const n: number = await h.result();
const s = await client.enqueue('syncCrm', ['acme']);
const r: { synced: string; full: boolean } = await s.result();
await client.enqueue('syncCrm', ['acme', { full: true }]);
const len: number = await (await client.enqueue('mail.send', ['a@example.com', 'hi'])).result();
await client.enqueue('cleanup', []);
await client.enqueue('js.task', [1, 'anything']);
const byName: number = await client.result<'add'>(h.id);
const byType: string = await client.result<string>(h.id);
export { n, r, len, byName, byType };
`;

describe('discovery: the task-types declaration file', function () {
  this.timeout(300_000);
  let p: TempProject;
  afterEach(() => p.cleanup());

  it('types enqueue by name in code that does not import the tasks: a correct call compiles, a wrong name or argument fails', async () => {
    p = tempProject({
      'package.json': '{ "type": "module" }',
      'src/tasks.ts': TASKS,
      'tasks.mjs': "import { task } from 'nuvom';\nexport const js = task({ name: 'js.task' }, async (a) => a);\n",
      'api/ok.ts': API_OK,
      'api/wrong-name.ts': "import { createClient } from 'nuvom';\nconst client = await createClient();\nawait client.enqueue('addd', [1, 2]);\n",
      'api/wrong-args.ts': "import { createClient } from 'nuvom';\nconst client = await createClient();\nawait client.enqueue('add', [1, '2']);\n"
        + "await client.enqueue('add', [1]);\nconst s: string = await (await client.enqueue('add', [1, 2])).result();\nexport { s };\n",
      'tsconfig.json': JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], strict: true, noEmit: true,
          allowImportingTsExtensions: true, skipLibCheck: true, typeRoots: [join(REPO_ROOT, 'node_modules/@types')], types: ['node'],
          // `nuvom` is this repository's source, as a project's node_modules/nuvom would be.
          paths: { nuvom: [join(REPO_ROOT, 'sdk/index.ts')] },
        },
        include: ['api', '.nuvom/tasks.d.ts'],
      }),
    });
    const r = await discover(p);
    expect(r.stdout).to.include('; types written to .nuvom/tasks.d.ts');

    const errors = await tsc(p.root);
    expect(errors.filter((e) => e.startsWith('api/ok.ts')), 'the correct calls compile').to.deep.equal([]);
    expect(errors.filter((e) => e.startsWith('api/wrong-name.ts'))).to.deep.equal([
      `api/wrong-name.ts(3,22): error TS2345: Argument of type '"addd"' is not assignable to parameter of type 'keyof NuvomTaskMap'.`,
    ]);
    const wrong = errors.filter((e) => e.startsWith('api/wrong-args.ts'));
    expect(wrong).to.have.length(3);
    expect(wrong[0]).to.equal(`api/wrong-args.ts(3,33): error TS2322: Type 'string' is not assignable to type 'number'.`);
    expect(wrong[1]).to.match(/^api\/wrong-args\.ts\(4,29\): error TS2345: Argument of type '\[number\]' is not assignable to parameter of type '\[x: number, y: number\]'/);
    expect(wrong[2]).to.equal(`api/wrong-args.ts(5,7): error TS2322: Type 'number' is not assignable to type 'string'.`);
    expect(errors).to.have.length(4);
  });

  it('maps each task to a type query on its module, names only for JavaScript, and leaves an unchanged file alone', async () => {
    p = tempProject({ 'src/tasks.ts': TASKS, 'jobs/plain.mjs': "import { task } from 'nuvom';\nexport const js = task({ name: 'js.task' }, async (a) => a);\n" });
    await discover(p);
    const file = join(p.root, '.nuvom', 'tasks.d.ts');
    const text = readFileSync(file, 'utf8');
    expect(text).to.include(`"add": TaskTypesOf<(typeof import("../src/tasks.js"))["add"]>;`)
      .and.include(`"cleanup": TaskTypesOf<(typeof import("../src/tasks.js"))["default"]>;`)
      .and.include(`"mail.send": MethodTaskTypesOf<(typeof import("../src/tasks.js"))["Mailer"], "send">;`)
      .and.include(`"syncCrm": TaskTypesOf<(typeof import("../src/tasks.js"))["syncCrmTask"]>;`)
      .and.include(`"js.task": { args: unknown[]; result: unknown };`)
      .and.include("declare module 'nuvom' {");
    const before = statSync(file).mtimeMs;
    const again = await discover(p);
    expect(again.stdout).not.to.include('types written');
    expect(statSync(file).mtimeMs).to.equal(before);
  });

  it('--types FILE moves the file (imports relative to it); --no-types writes none', async () => {
    p = tempProject({ 'src/tasks.ts': TASKS });
    const r = await discover(p, '--types', 'types/nuvom-tasks.d.ts');
    expect(r.stdout).to.include('; types written to types/nuvom-tasks.d.ts');
    expect(readFileSync(join(p.root, 'types/nuvom-tasks.d.ts'), 'utf8')).to.include('import("../src/tasks.js")');
    expect(statSync(join(p.root, '.nuvom/tasks.d.ts'), { throwIfNoEntry: false })).to.equal(undefined);

    const q = tempProject({ 'src/tasks.ts': TASKS });
    try {
      const none = await discover(q, '--no-types');
      expect(none.stdout).not.to.include('types written');
      expect(statSync(join(q.root, '.nuvom/tasks.d.ts'), { throwIfNoEntry: false })).to.equal(undefined);
    } finally {
      q.cleanup();
    }
  });
});
