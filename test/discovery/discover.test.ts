import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { discoverTasks, isManifestStale, loadManifest } from '../../builtin-plugins/discovery/discover.ts';
import { isNuvomError } from '../../sdk/plugin.ts';
import { IMPORT, tempProject, type TempProject } from './helpers.ts';

const def = (name: string, extra = '') => `export const ${name.replace(/\W/g, '_')} = task({ name: '${name}'${extra} }, async () => 1);\n`;

describe('discovery: discoverTasks and the manifest', () => {
  let p: TempProject;
  const discover = (more: Partial<Parameters<typeof discoverTasks>[0]> = {}) => discoverTasks({ root: p.root, manifestPath: p.manifestPath, ...more });
  afterEach(() => p.cleanup());

  it('writes the manifest with root-relative POSIX files, per-file hashes and task names', async () => {
    p = tempProject({ 'src/tasks/math.ts': IMPORT + def('math.add', ', retries: 2'), 'src/util.ts': 'export const x = 1;\n' });
    await discover();
    const m = JSON.parse(readFileSync(p.manifestPath, 'utf8'));
    expect(m).to.include({ version: 1, root: p.root });
    expect(m.generatedAt).to.be.a('string');
    expect(m.tasks).to.deep.equal([{ name: 'math.add', file: 'src/tasks/math.ts', export: 'math_add', line: 2, options: { retries: 2 }, signature: { params: [], required: 0 } }]);
    expect(m.files['src/tasks/math.ts'].tasks).to.deep.equal(['math.add']);
    expect(m.files['src/tasks/math.ts'].hash).to.match(/^[0-9a-f]{40}$/);
    expect(m.files['src/util.ts'].tasks).to.deep.equal([]);
  });

  it('does not parse an unchanged file again', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a'), 'b.ts': IMPORT + def('b') });
    expect((await discover()).stats).to.include({ files: 2, parsed: 2, cached: 0 });
    const again = await discover();
    expect(again.stats).to.include({ files: 2, parsed: 0, cached: 2 });
    expect(again.manifest.tasks.map((t) => t.name)).to.deep.equal(['a', 'b']);
  });

  it('parses only the file that changed', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a'), 'b.ts': IMPORT + def('b') });
    await discover();
    p.write('b.ts', IMPORT + def('b2'));
    expect((await discover()).stats).to.include({ parsed: 1, cached: 1 });
  });

  it('does not parse a touched file whose content is the same (hash check)', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    await discover();
    const later = new Date(Date.now() + 5000);
    utimesSync(`${p.root}/a.ts`, later, later);
    expect((await discover()).stats).to.include({ parsed: 0, cached: 1 });
  });

  it('reports added tasks', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    await discover();
    p.write('b.ts', IMPORT + def('b'));
    const { diff } = await discover();
    expect(diff.added.map((t) => `${t.name}@${t.file}:${t.line}`)).to.deep.equal(['b@b.ts:2']);
    expect(diff.removed).to.deep.equal([]);
    expect(diff.modified).to.deep.equal([]);
  });

  it('reports removed tasks', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') + def('gone') });
    await discover();
    p.write('a.ts', IMPORT + def('a'));
    const { diff } = await discover();
    expect(diff.removed.map((t) => t.name)).to.deep.equal(['gone']);
    expect(diff.added).to.deep.equal([]);
  });

  it('reports a task modified when its options, line, export or file change', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('opt') + def('moved'), 'b.ts': IMPORT + def('rehomed') });
    await discover();
    p.write('a.ts', `${IMPORT}\n${def('opt', ', retries: 5')}export const renamed = task({ name: 'moved' }, async () => 1);\n`);
    p.write('b.ts', '');
    p.write('c.ts', IMPORT + def('rehomed'));
    const { diff } = await discover();
    const changes = Object.fromEntries(diff.modified.map((m) => [m.name, m.changed]));
    expect(changes).to.deep.equal({ opt: ['line', 'options'], moved: ['export', 'line'], rehomed: ['file'] });
  });

  it('reports no change and leaves the manifest file alone when nothing changed', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    await discover();
    const before = readFileSync(p.manifestPath, 'utf8');
    const r = await discover();
    expect(r.written).to.equal(false);
    expect(r.diff).to.deep.equal({ added: [], removed: [], modified: [] });
    expect(readFileSync(p.manifestPath, 'utf8')).to.equal(before);
  });

  it('refuses two tasks with one name, naming both places, and does not write the manifest', async () => {
    p = tempProject({ 'a.ts': IMPORT + '\n' + def('send'), 'b.ts': IMPORT + def('send') });
    const err = await discover().then(() => null, (e: unknown) => e);
    expect(isNuvomError(err, 'NUVOM_E_DISCOVERY'), String(err)).to.equal(true);
    expect((err as Error).message).to.include('a.ts:3').and.include('b.ts:2').and.include('"send"');
    expect(existsSync(p.manifestPath)).to.equal(false);
  });

  it('reports a file that does not parse with line:column and scans the others', async () => {
    p = tempProject({ 'bad.ts': `${IMPORT}const = ;\n`, 'good.ts': IMPORT + def('good') });
    const r = await discover();
    expect(r.manifest.tasks.map((t) => t.name)).to.deep.equal(['good']);
    expect(r.problems).to.have.length(1);
    expect(r.problems[0]).to.include({ file: 'bad.ts', line: 2, column: 7 });
  });

  it('reports the problems of an unchanged file again from the manifest', async () => {
    p = tempProject({ 'bad.ts': `${IMPORT}const = ;\n` });
    await discover();
    const r = await discover();
    expect(r.stats.cached).to.equal(1);
    expect(r.problems.map((x) => `${x.file}:${x.line}:${x.column}`)).to.deep.equal(['bad.ts:2:7']);
  });

  it('passes include and exclude to the walk and records them in the manifest', async () => {
    p = tempProject({ 'src/a.ts': IMPORT + def('a'), 'src/a.test.ts': IMPORT + def('fixture') });
    const r = await discover({ exclude: ['**/*.test.ts'] });
    expect(r.manifest.tasks.map((t) => t.name)).to.deep.equal(['a']);
    expect(r.manifest.exclude).to.deep.equal(['**/*.test.ts']);
  });

  it('writes atomically, leaving no temporary file beside the manifest', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    await discover();
    expect(readdirSync(dirname(p.manifestPath))).to.deep.equal(['manifest.json']);
  });

  it('reports progress up to the total', async () => {
    p = tempProject({ 'a.ts': '', 'b.ts': '' });
    const seen: number[] = [];
    await discover({ onProgress: (x) => seen.push(x.done) });
    expect(seen.at(-1)).to.equal(2);
  });
});

describe('discovery: loadManifest and staleness', () => {
  let p: TempProject;
  afterEach(() => p.cleanup());

  it('loads a manifest discovery wrote', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
    expect(loadManifest(p.manifestPath).tasks.map((t) => t.name)).to.deep.equal(['a']);
  });

  it('refuses a malformed manifest with NUVOM_E_MANIFEST saying to run `nuvom discover tasks`', () => {
    p = tempProject({ '.nuvom/manifest.json': JSON.stringify({ version: 1, tasks: 'nope' }) });
    expect(() => loadManifest(p.manifestPath)).to.throw(/malformed.*nuvom discover tasks/)
      .that.satisfies((e: unknown) => isNuvomError(e, 'NUVOM_E_MANIFEST'));
  });

  it('refuses a manifest that is not JSON', () => {
    p = tempProject({ '.nuvom/manifest.json': '{ "version": 1,' });
    expect(() => loadManifest(p.manifestPath)).to.throw(/not valid JSON.*nuvom discover tasks/);
  });

  it('says how to create a missing manifest', () => {
    p = tempProject();
    expect(() => loadManifest(p.manifestPath)).to.throw(/no task manifest.*nuvom discover tasks/);
  });

  it('rebuilds over a malformed manifest instead of failing', async () => {
    p = tempProject({ '.nuvom/manifest.json': 'garbage', 'a.ts': IMPORT + def('a') });
    const r = await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
    expect(r.written).to.equal(true);
    expect(loadManifest(p.manifestPath).tasks).to.have.length(1);
  });

  it('is not stale right after a scan', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    const { manifest } = await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
    expect(isManifestStale(manifest, p.root)).to.equal(false);
  });

  it('is stale when a listed file changed', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    const { manifest } = await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
    writeFileSync(`${p.root}/a.ts`, IMPORT + def('a') + def('b'));
    expect(isManifestStale(manifest)).to.equal(true);
  });

  it('is stale when a new source file appears', async () => {
    p = tempProject({ 'a.ts': IMPORT + def('a') });
    const { manifest } = await discoverTasks({ root: p.root, manifestPath: p.manifestPath });
    p.write('src/new.ts', '');
    expect(isManifestStale(manifest)).to.equal(true);
  });
});
