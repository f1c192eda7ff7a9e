/**
 * Presets (issue 16): an application that boots a preset without the worker pool, discovery and the
 * doctor enqueues and reads results, and never loads their modules. Real processes on a throwaway
 * project whose `nuvom` is this repository's build; a module-loading hook records every URL loaded.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { definePlugin, presetEntries, resolvePreset, type Preset } from '../../sdk/plugin.ts';
import { cleanupTempProjects, killAll, nuvom, project, start, waitFor } from '../cli/helpers.ts';

const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.LOADED_LOG, url + '\\n');
  return next(url, context);
}
`;

const REGISTER = "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n";

const APP = (presetLine: string, clientOptions: string) => `import { createClient } from 'nuvom';
${presetLine}
import { add } from './tasks.mjs';
const client = await createClient(${clientOptions});
const h = await add.delay(2, 3);
process.stdout.write(JSON.stringify({ id: h.id }) + '\\n');
const result = await h.result({ timeoutSecs: 60 });
process.stdout.write(JSON.stringify({ result, jobs: (await client.listJobs()).length }) + '\\n');
await client.close();
`;

/**
 * The modules behind loaded URLs: the built package is bundled (scripts/build.mjs), so a dist/ file
 * stands for itself and the source modules its source map lists.
 */
function withSources(urls: string[]): string[] {
  return urls.flatMap((u) => {
    const file = u.startsWith('file:') ? fileURLToPath(u) : null;
    if (!file || !existsSync(`${file}.map`)) return [u];
    const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    return [u, ...sources.map((s) => pathToFileURL(path.resolve(path.dirname(file), s)).href)];
  });
}

function runApp(dir: string, env: Record<string, string>) {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NUVOM_')) clean[k] = v;
  const child = spawn(process.execPath, ['--import', './register.mjs', 'app.mjs'], { cwd: dir, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '', code: null as number | null };
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out.stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { out.stderr += s; });
  const done = new Promise<void>((resolve) => child.on('close', (code) => { out.code = code; resolve(); }));
  return { out, done };
}

describe('presets', function () {
  this.timeout(120_000);
  after(cleanupTempProjects);
  afterEach(killAll);

  for (const [label, presetLine, options] of [
    ['the core preset', "import core from 'nuvom/presets/core';", '{ preset: core }'],
    ['the default preset less the worker pool, discovery and the doctor', '', "{ disable: ['nuvom-worker-pool', 'nuvom-discovery', 'nuvom-doctor', 'nuvom-plugin-tools'] }"],
  ] as const) {
    it(`enqueues and reads results with ${label}, loading no worker-pool, discovery or doctor module`, async () => {
      const p = project({ 'hooks.mjs': HOOKS, 'register.mjs': REGISTER, 'app.mjs': APP(presetLine, options) });
      const log = path.join(p.dir, 'loaded.log');
      expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
      const app = runApp(p.dir, { ...p.env, LOADED_LOG: log });
      await waitFor(() => app.out.stdout.includes('"id"') || app.out.code !== null, { timeoutMs: 60_000, what: 'the app to enqueue' });
      expect(app.out.stderr).to.equal('');
      // Another process, on the default preset, runs the job.
      const worker = start(p, ['runworker', '--burst', '--threads', '1']);
      await app.done;
      expect(app.out.code, app.out.stderr).to.equal(0);
      expect(JSON.parse(app.out.stdout.trim().split('\n')[1])).to.deep.equal({ result: 5, jobs: 1 });
      expect((await worker.done).code).to.equal(0);

      const loaded = withSources(readFileSync(log, 'utf8').split('\n').filter(Boolean));
      expect(loaded.some((u) => u.includes('/builtin-plugins/jobs/'))).to.equal(true);
      expect(loaded.some((u) => u.includes('/builtin-plugins/sqlite/'))).to.equal(true);
      for (const part of ['worker-pool', 'discovery', 'doctor', 'plugin-tools']) {
        expect(loaded.filter((u) => u.includes(`/builtin-plugins/${part}/`)), part).to.deep.equal([]);
      }
      expect(loaded.filter((u) => /oxc-parser/.test(u)), 'the discovery parser').to.deep.equal([]);
    });
  }

  it('extends a preset, replaces one of its plugins by name and leaves one out, importing neither', async () => {
    const imported: string[] = [];
    const lazy = (name: string) => ({ name, load: () => { imported.push(name); return definePlugin({ name, apiVersion: 1 }); } });
    const base: Preset = { name: 'base', plugins: [lazy('a'), lazy('b'), lazy('c')], settings: { x: 1 } };
    const child: Preset = { name: 'child', extends: [base], plugins: [lazy('d')], settings: { y: 2 } };
    expect(presetEntries(child).map((e) => e.name)).to.deep.equal(['a', 'b', 'c', 'd']);
    const mine = definePlugin({ name: 'b', apiVersion: 1, description: 'mine' });
    const r = await resolvePreset(child, { plugins: [mine], disable: ['c'] });
    expect(r.plugins.map((p) => p.name)).to.deep.equal(['a', 'b', 'd']);
    expect(r.plugins[1]).to.equal(mine);
    expect(imported).to.deep.equal(['a', 'd']);
    expect(r.settings).to.deep.equal({ x: 1, y: 2 });
    const err = (await resolvePreset(child, { disable: ['dd'] }).catch((e: unknown) => e)) as Error;
    expect(err.message).to.contain('cannot disable "dd"').and.contain('did you mean "d"?');
  });

  it('loads the kept plugins together, in the preset\'s order, and reports the first in that order that fails', async () => {
    const gate = (name: string, ms: number, fail = false) => ({
      name,
      load: () => new Promise<ReturnType<typeof definePlugin>>((resolve, reject) => setTimeout(() => (fail ? reject(new Error(`${name} broke`)) : resolve(definePlugin({ name, apiVersion: 1 }))), ms)),
    });
    const ok = await resolvePreset({ name: 'p', plugins: [gate('slow', 30), gate('fast', 1)] });
    expect(ok.plugins.map((p) => p.name)).to.deep.equal(['slow', 'fast']);
    const err = (await resolvePreset({ name: 'p', plugins: [gate('late', 30, true), gate('early', 1, true)] }).catch((e: unknown) => e)) as Error;
    expect(err.message).to.equal('late broke');
  });
});
