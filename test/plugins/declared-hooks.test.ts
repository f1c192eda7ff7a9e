/**
 * Plugins declare their own hooks and error codes through the protocol (issue 16): `hooks` and
 * `errors` in the definition, typed by augmenting nuvom/plugin. The third-party plugin below is
 * written against `nuvom/plugin` only (this repo's build, linked into a temp project).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { bootKernel, definePlugin, isNuvomError, loadConfig, resolvePreset, type NuvomPlugin } from '../../sdk/plugin.ts';
import defaultPreset from '../../presets/default/index.ts';
import { cleanupTempProjects, memoryLogger, REPO_ROOT, tempProject, waitFor } from '../helpers/tmp.ts';

const run = promisify(execFile);

const ACME = `
import { definePlugin, NuvomError, type PluginContext } from 'nuvom/plugin';

export interface AcmeReport { endpoint: string; ok: boolean }

declare module 'nuvom/plugin' {
  interface ObserverEvents { acmeReported: AcmeReport }
  interface PipelineValues { acmeBeforeSend: string }
  interface PluginErrorCodes { NUVOM_E_ACME_DOWN: true }
}

let ctxOf: PluginContext | undefined;

export const acme = definePlugin({
  name: 'acme',
  apiVersion: 1,
  hooks: { acmeReported: 'observer', acmeBeforeSend: 'pipeline' },
  errors: { NUVOM_E_ACME_DOWN: 'the acme endpoint did not answer' },
  register(ctx) { ctxOf = ctx; },
});

/** What the plugin does when it reports: a pipeline over the body, an event, or its own error. */
export async function report(endpoint: string): Promise<string> {
  const ctx = ctxOf!;
  const body = await ctx.hooks.acmeBeforeSend.promise('report');
  if (endpoint === 'down') throw new NuvomError('NUVOM_E_ACME_DOWN', 'acme at ' + endpoint + ' did not answer', { plugin: 'acme' });
  ctx.bus.emit('acmeReported', { endpoint, ok: true });
  return body;
}

/** Another plugin taps acme's hooks, typed from the augmentation (registered before acme). */
export const listener = definePlugin({
  name: 'acme-listener',
  apiVersion: 1,
  register(ctx) {
    ctx.hooks.acmeBeforeSend.tapPromise('x', async (body) => body + ' signed');
    ctx.hooks.acmeReported.tap('x', (e) => { seen.push(e.endpoint + ':' + e.ok); });
    ctx.hooks.acmeReported.tap('y', () => { throw new Error('a broken monitor'); });
  },
});
export const seen: string[] = [];
`;

async function boot(plugins: NuvomPlugin[]) {
  const config = await loadConfig({ cwd: tempProject(), env: {}, noConfigFile: true });
  const log = memoryLogger();
  return { kernel: await bootKernel({ config, plugins, logger: log.logger }), lines: log.lines };
}

describe('hooks and error codes a plugin declares', function () {
  this.timeout(60_000);
  after(cleanupTempProjects);

  const project = () => {
    const dir = tempProject({ 'package.json': '{ "name": "acme-app", "type": "module" }', 'acme.ts': ACME }, { linkNuvom: true });
    symlinkSync(path.join(REPO_ROOT, 'node_modules', 'tsx'), path.join(dir, 'node_modules', 'tsx'), 'dir');
    return dir;
  };

  it('lets a third-party plugin declare a hook others tap (even ones that register first) and an error code it throws', async () => {
    const dir = project();
    const mod = await import(path.join(dir, 'acme.ts')) as { acme: NuvomPlugin; listener: NuvomPlugin; report(e: string): Promise<string>; seen: string[] };
    const { kernel, lines } = await boot([mod.listener, mod.acme]);
    try {
      expect(await mod.report('127.0.0.1')).to.equal('report signed');
      await waitFor(() => mod.seen.length === 1, { what: 'the acmeReported tap' });
      expect(mod.seen).to.deep.equal(['127.0.0.1:true']);
      // An observer of a declared hook is isolated like the kernel's: logged once, naming the plugin.
      expect(lines.some((l) => l.includes('acme-listener') && l.includes('acmeReported') && l.includes('a broken monitor'))).to.equal(true);
      const err = await mod.report('down').catch((e: unknown) => e);
      expect(isNuvomError(err)).to.equal(true);
      expect((err as { code: string }).code).to.equal('NUVOM_E_ACME_DOWN');
      expect((err as Error).message).to.contain('[plugin "acme"]');
      expect(kernel.resolve('kernelInfo').errorCodes()).to.deep.equal({ NUVOM_E_ACME_DOWN: { meaning: 'the acme endpoint did not answer', plugin: 'acme' } });
      expect(kernel.bus.declaredHooks()).to.deep.include({ name: 'acmeReported', kind: 'observer', owner: 'acme' });
    } finally {
      await kernel.stop();
    }
  });

  it('types the declared hooks and code through the augmentation of nuvom/plugin', async () => {
    const dir = project();
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--allowImportingTsExtensions', '--types', 'node', '--typeRoots', path.join(REPO_ROOT, 'node_modules/@types'), 'acme.ts'];
    const ok = await run('node', [tsc, ...args], { cwd: dir }).then(() => 'ok', (e: { stdout: string }) => e.stdout);
    expect(ok).to.equal('ok');
  });

  it('refuses a hook name the kernel owns, a code declared twice, and a code of the wrong shape', async () => {
    const clash = await boot([definePlugin({ name: 'p', apiVersion: 1, hooks: { jobSucceeded: 'observer' } })]).catch((e: unknown) => e) as Error & { code: string };
    expect(clash.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(clash.message).to.contain('[plugin "p"]').and.contain('hook "jobSucceeded" is already declared by the kernel');
    const twice = await boot([
      definePlugin({ name: 'a', apiVersion: 1, errors: { NUVOM_E_ACME: 'one' } }),
      definePlugin({ name: 'b', apiVersion: 1, errors: { NUVOM_E_ACME: 'two' } }),
    ]).catch((e: unknown) => e) as Error & { code: string };
    expect(twice.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(twice.message).to.contain('[plugin "b"]').and.contain('already declared by plugin "a"');
    const shape = await boot([definePlugin({ name: 'c', apiVersion: 1, errors: { ACME_BROKEN: 'x' } })]).catch((e: unknown) => e) as Error & { code: string };
    expect(shape.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(shape.message).to.contain('error code "ACME_BROKEN" must look like NUVOM_E_');
    const kernels = await boot([definePlugin({ name: 'd', apiVersion: 1, errors: { NUVOM_E_CONFIG: 'mine' } })]).catch((e: unknown) => e) as Error;
    expect(kernels.message).to.contain('"NUVOM_E_CONFIG" is the kernel\'s');
  });

  it('declares the worker pool\'s thread events through the pool plugin, and a tap on them boots without the pool', async () => {
    const preset = await resolvePreset(defaultPreset);
    const config = await loadConfig({ cwd: tempProject(), env: {}, noConfigFile: true });
    const withPool = await bootKernel({ config, preset, logger: memoryLogger().logger });
    try {
      const owners = withPool.bus.declaredHooks().filter((h) => h.owner === 'nuvom-worker-pool').map((h) => h.name);
      expect(owners).to.include.members(['threadStarted', 'threadStopped', 'threadReplaced', 'workerStarted', 'workerStopped', 'poolStats']);
    } finally {
      await withPool.stop();
    }
    // No pool loaded: the hook is idle; tapping it is no error, and its taps never fire.
    const { kernel } = await boot([definePlugin({ name: 'gauges', apiVersion: 1, register(ctx) { ctx.hooks.threadStarted.tap('g', () => undefined); } })]);
    expect(kernel.bus.declaredHooks()).to.deep.equal([]);
    expect(kernel.hooks.threadStarted.isUsed()).to.equal(true);
    await kernel.stop();
  });
});
