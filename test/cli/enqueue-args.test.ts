import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cleanupTempProjects, failedWith, killAll, nuvom, project, type Project } from './helpers.ts';

/** A TypeScript task module: types, an optional and a defaulted parameter, a rest, an imported function. */
const TYPED = `import { task } from 'nuvom';
import { external } from './external.ts';
export const sum = task({ name: 'sum' }, async (x: number, y: number) => x + y);
export async function syncCrm(accountId: string, opts?: { full: boolean }) { return accountId; }
export const syncCrmTask = task({ retries: 1 }, syncCrm);
export const log = task({ name: 'log' }, async (level: string, ...parts: unknown[]) => parts.length);
export const ext = task({ name: 'ext' }, external);
`;

describe('cli: enqueue checks the argument count against the manifest', function () {
  this.timeout(120_000);
  let p: Project;

  before(async () => {
    p = project({ 'typed.ts': TYPED, 'external.ts': 'export async function external(a: number) { return a; }\n' });
    const r = await nuvom(p, ['discover', 'tasks']);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(() => { killAll(); cleanupTempProjects(); });

  it('a missing argument exits 2 with the signature, and nothing is enqueued', async () => {
    failedWith(await nuvom(p, ['enqueue', 'sum', '1']), 2,
      'error: task "sum" expects 2 arguments, got 1; its signature is sum(x: number, y: number); nothing was enqueued (NUVOM_E_USAGE)');
    failedWith(await nuvom(p, ['enqueue', 'add', '1', '2', '3']), 2, 'task "add" expects 2 arguments, got 3; its signature is add(a, b)');
    failedWith(await nuvom(p, ['enqueue', 'syncCrm']), 2,
      'task "syncCrm" expects 1 to 2 arguments, got 0; its signature is syncCrm(accountId: string, opts?: { full: boolean })');
    failedWith(await nuvom(p, ['enqueue', 'log']), 2, 'task "log" expects at least 1 argument, got 0; its signature is log(level: string, ...parts: unknown[])');
    // Nothing enqueued: no database was even created (stats, a read-only command, says so).
    const stats = await nuvom(p, ['stats', '--json']);
    expect(stats.code).to.equal(1);
    expect(stats.stderr).to.include('NUVOM_E_NO_DATABASE');
  });

  it('a count within the signature is enqueued: optional parameters may be left out, a rest takes any number', async () => {
    for (const args of [['sum', '1', '2'], ['syncCrm', '"acme"'], ['syncCrm', '"acme"', '{"full":true}'], ['log', '"info"', '1', '2', '3']]) {
      const r = await nuvom(p, ['enqueue', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.stderr).to.equal('');
    }
  });

  it('a task whose function the scan cannot see (imported) is not checked', async () => {
    const r = await nuvom(p, ['enqueue', 'ext', '1', '2', '3']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
  });

  it('an old manifest without parameters still enqueues, hints to rediscover, and a rediscover records them', async () => {
    const q = project();
    expect((await nuvom(q, ['discover', 'tasks'])).code).to.equal(0);
    const file = path.join(q.dir, '.nuvom', 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as { tasks: Array<Record<string, unknown>> };
    for (const t of m.tasks) delete t.signature;
    writeFileSync(file, JSON.stringify(m, null, 2));

    const old = await nuvom(q, ['enqueue', 'add', '1']);
    expect(old.code, old.stderr).to.equal(0);
    expect(old.stderr).to.include('the task manifest predates argument checks, so the arguments of "add" are not checked: run `nuvom discover tasks`');

    // The sources did not change, yet the rescan reads them again to record the parameters.
    const again = await nuvom(q, ['discover', 'tasks']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/manifest written to/);
    failedWith(await nuvom(q, ['enqueue', 'add', '1']), 2, 'its signature is add(a, b)');
  });
});
