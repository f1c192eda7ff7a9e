import { expect } from 'chai';
import { scanFile } from '../../builtin-plugins/discovery/scan.ts';
import { loadManifest } from '../../builtin-plugins/discovery/manifest.ts';
import { discoverTasks } from '../../builtin-plugins/discovery/discover.ts';
import { argCountProblem, formatSignature } from '../../sdk/plugin.ts';
import { IMPORT, tempProject, type TempProject } from './helpers.ts';

const signatureOf = (body: string, name: string) => {
  const r = scanFile('t.ts', `${IMPORT}${body}`);
  expect(r.problems).to.deep.equal([]);
  const t = r.tasks.find((x) => x.name === name);
  if (!t) throw new Error(`no task ${name} in ${JSON.stringify(r.tasks)}`);
  return t.signature;
};

describe('discovery: task parameters', () => {
  it('records names, written types, optional, default and rest parameters of an inline function', () => {
    const sig = signatureOf("export const t = task({ name: 't' }, async (x: number, y?: string, z = 3, ...more: string[]) => 1);\n", 't');
    expect(sig).to.deep.equal({
      params: [{ name: 'x', type: 'number' }, { name: 'y', type: 'string', optional: true }, { name: 'z', optional: true, default: '3' }, { name: 'more', type: 'string[]', rest: true }],
      required: 1,
    });
    expect(formatSignature('t', sig!)).to.equal('t(x: number, y?: string, z = 3, ...more: string[])');
  });

  it('reads a named function passed by reference, declared anywhere in the module', () => {
    const sig = signatureOf('export const s = task(syncCrm);\nexport async function syncCrm(accountId: string, { full }: { full: boolean }) {}\n', 'syncCrm');
    expect(sig).to.deep.equal({ params: [{ name: 'accountId', type: 'string' }, { name: '{ full }', type: '{ full: boolean }' }], required: 2 });
    expect(signatureOf("const send = (to, body = '') => 1;\nexport const t = task({ name: 'send' }, send);\n", 'send'))
      .to.deep.equal({ params: [{ name: 'to' }, { name: 'body', optional: true, default: "''" }], required: 1 });
    expect(signatureOf('export const n = task(async function nightly(day: string) {});\n', 'nightly')).to.deep.include({ required: 1 });
  });

  it('reads a decorated method, leaving out a `this` parameter', () => {
    const sig = signatureOf("export class Mailer {\n  @task({ name: 'mail.send' }) async send(this: void, to: string, cc?: string[]) {}\n}\n", 'mail.send');
    expect(sig).to.deep.equal({ params: [{ name: 'to', type: 'string' }, { name: 'cc', type: 'string[]', optional: true }], required: 1 });
  });

  it('records null where the function is not surely known: imported, in a let, overloaded, computed', () => {
    const src = "import { ext } from './ext.ts';\nexport const a = task({ name: 'a' }, ext);\nlet l = (x: number) => x;\nexport const b = task({ name: 'b' }, l);\n"
      + "function o(a: number): void;\nfunction o(a: string, b: string): void;\nfunction o(a: unknown, b?: unknown) {}\nexport const c = task({ name: 'c' }, o);\n"
      + "export const d = task({ name: 'd' }, wrap((x: number) => x));\n";
    const r = scanFile('t.ts', `${IMPORT}${src}`);
    expect(r.tasks.map((t) => [t.name, t.signature])).to.deep.equal([['a', null], ['b', null], ['c', null], ['d', null]]);
  });

  it('a call is checked against the required count and the upper bound', () => {
    const sig = { params: [{ name: 'a' }, { name: 'b', optional: true as const }], required: 1 };
    expect(argCountProblem(sig, 0)).to.equal('expects 1 to 2 arguments, got 0');
    expect(argCountProblem(sig, 1)).to.equal(null);
    expect(argCountProblem(sig, 3)).to.equal('expects 1 to 2 arguments, got 3');
    expect(argCountProblem({ params: [{ name: 'r', rest: true }], required: 0 }, 9)).to.equal(null);
    expect(argCountProblem({ params: [], required: 0 }, 1)).to.equal('expects 0 arguments, got 1');
  });

  describe('in the manifest', () => {
    let p: TempProject;
    afterEach(() => p.cleanup());

    it('is written, rewritten when it changes, and an old manifest without it is rescanned though unchanged', async () => {
      p = tempProject({ 'a.ts': `${IMPORT}export const add = task({ name: 'add' }, async (x: number, y: number) => x + y);\n` });
      await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
      expect(loadManifest(p.manifestPath).tasks[0].signature).to.deep.include({ required: 2 });

      p.write('a.ts', `${IMPORT}export const add = task({ name: 'add' }, async (x: number, y: number, z = 0) => x + y + z);\n`);
      const changed = await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
      expect(changed.diff.modified.map((m) => m.changed)).to.deep.equal([['signature']]);

      // An older manifest: same files, no signature keys.
      const old = loadManifest(p.manifestPath);
      for (const t of old.tasks) delete t.signature;
      p.write('.nuvom/manifest.json', JSON.stringify(old));
      const again = await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
      expect(again.stats.parsed).to.equal(1);
      expect(again.written).to.equal(true);
      expect(again.diff.modified).to.deep.equal([]);
      expect(loadManifest(p.manifestPath).tasks[0].signature).to.deep.include({ required: 2 });
    });

    it('a malformed signature makes the manifest malformed (NUVOM_E_MANIFEST)', async () => {
      p = tempProject({ 'a.ts': `${IMPORT}export const add = task({ name: 'add' }, async (x: number) => x);\n` });
      await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
      const m = loadManifest(p.manifestPath);
      (m.tasks[0] as unknown as { signature: unknown }).signature = { params: 'x', required: 1 };
      p.write('.nuvom/manifest.json', JSON.stringify(m));
      expect(() => loadManifest(p.manifestPath)).to.throw(/tasks\[0\]\.signature params is not a list/);
    });
  });
});
