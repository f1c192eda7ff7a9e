import { expect } from 'chai';
import { bootKernel, definePlugin, loadConfig, parseSpec, type NuvomPlugin } from '../../sdk/plugin.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

const plain = (name: string, extra: Partial<NuvomPlugin> = {}): NuvomPlugin => ({ name, apiVersion: 1, ...extra });

async function boot(dir: string, plugins: NuvomPlugin[] = [], timeouts?: { startMs: number; stopMs: number }) {
  const config = await loadConfig({ cwd: dir, env: {} });
  return bootKernel({ config, plugins, logger: memoryLogger().logger, timeouts });
}

describe('plugin host', () => {
  after(cleanupTempProjects);

  it('starts plugins after their dependencies and stops them in reverse order', async () => {
    const log: string[] = [];
    const p = (name: string, dependsOn: string[] = []) => plain(name, {
      dependsOn, register: () => { log.push(`register ${name}`); }, start: () => { log.push(`start ${name}`); }, stop: () => { log.push(`stop ${name}`); },
    });
    const kernel = await boot(tempProject(), [p('c', ['b']), p('a'), p('b', ['a'])]);
    await kernel.stop();
    expect(log).to.deep.equal(['register a', 'register b', 'register c', 'start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('reports a dependency cycle naming the plugins in it', async () => {
    const err = await boot(tempProject(), [plain('x', { dependsOn: ['y'] }), plain('y', { dependsOn: ['z'] }), plain('z', { dependsOn: ['x'] })]).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_PLUGIN_CYCLE');
    expect(err.message).to.match(/x -> y -> z -> x/);
  });

  it('refuses two plugins with one name and a missing dependency', async () => {
    const dup = await boot(tempProject(), [plain('same'), plain('same')]).catch((e) => e);
    expect(dup.code).to.equal('NUVOM_E_PLUGIN_DUPLICATE');
    const missing = await boot(tempProject(), [plain('needy', { dependsOn: ['ghost'] })]).catch((e) => e);
    expect(missing.code).to.equal('NUVOM_E_PLUGIN_DEPENDENCY');
    expect(missing.message).to.contain('needy').and.contain('ghost');
  });

  it('names the plugin whose start fails and stops those already started', async () => {
    const stopped: string[] = [];
    const err = await boot(tempProject(), [
      plain('ok', { stop: () => { stopped.push('ok'); } }),
      plain('bad', { dependsOn: ['ok'], start: () => { throw new Error('port taken'); } }),
    ]).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_PLUGIN_START');
    expect(err.message).to.contain('plugin "bad"').and.contain('port taken');
    expect(stopped).to.deep.equal(['ok']);
  });

  it('times out a start that never finishes', async () => {
    const err = await boot(tempProject(), [plain('stuck', { start: () => new Promise(() => {}) })], { startMs: 50, stopMs: 50 }).catch((e) => e);
    expect(err.message).to.match(/plugin "stuck".*start\(\) did not finish within 50 ms/);
  });

  it('loads a .ts plugin from .nuvom_plugins.toml without a build step and hands it its settings', async () => {
    const dir = tempProject({
      'plugins/greeter.ts': `
        const seen: Record<string, unknown>[] = [];
        export const Greeter = { name: 'greeter', apiVersion: 1 as const, start(settings: Record<string, unknown>) { seen.push(settings); (globalThis as any).__greeterSettings = settings; } };
        export default { name: 'unused-default', apiVersion: 1 };
      `,
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/greeter.ts:Greeter"]\n\n[settings.greeter]\ngreeting = "hello"\nport = 9150\n',
    });
    const kernel = await boot(dir);
    expect((globalThis as any).__greeterSettings).to.deep.equal({ greeting: 'hello', port: 9150 });
    expect(kernel.plugins.map((l) => l.plugin.name)).to.include('greeter');
    await kernel.stop();
  });

  it('explains a plugin with the wrong apiVersion, a missing export and a missing file', async () => {
    const dir = tempProject({
      'old.mjs': 'export default { name: "old", apiVersion: 0 };',
      'none.mjs': 'export const other = 1;',
      'p1.toml': '', 
    });
    const write = (spec: string) => tempProject({ ...{ '.nuvom_plugins.toml': `[plugins]\nx = ["${spec}"]\n` } });
    for (const [spec, pattern] of [
      [`${dir}/old.mjs`, /apiVersion is 0, this nuvom speaks apiVersion 1/],
      [`${dir}/none.mjs:Plugin`, /has no export "Plugin"; it exports: other/],
      ['./missing.ts', /does not exist/],
      ['@acme/not-installed', /cannot find package "@acme\/not-installed"/],
    ] as const) {
      const err = await boot(write(spec)).catch((e) => e);
      expect(err.message, spec).to.match(pattern);
    }
  });

  it('lets a plugin provide a service that config selects by name', async () => {
    const provider = definePlugin({
      name: 'acme-queue', apiVersion: 1, provides: ['queue:acme'],
      register(ctx) { ctx.provide('queue', 'acme', () => ({ kind: 'acme' }) as never); },
    });
    const config = await loadConfig({ cwd: tempProject(), env: { NUVOM_QUEUE_BACKEND: 'acme' } });
    const kernel = await bootKernel({ config, plugins: [provider], logger: memoryLogger().logger });
    expect(kernel.resolve('queue')).to.deep.equal({ kind: 'acme' });
    await kernel.stop();
  });

  it('loads a lazily provided implementation at boot only when config chooses it, before any plugin starts', async () => {
    const loaded: string[] = [];
    let seenAtStart: string[] = [];
    const lazy = (name: string) => {
      let mod: { kind: string } | undefined;
      return { factory: () => ({ kind: mod!.kind }) as never, load: async () => { loaded.push(name); mod = { kind: name }; } };
    };
    const acme = lazy('acme');
    const other = lazy('other');
    const provider = definePlugin({
      name: 'acme-queue', apiVersion: 1, provides: ['queue:acme', 'queue:other'],
      register(ctx) {
        ctx.provide('queue', 'acme', acme.factory, undefined, { load: acme.load });
        ctx.provide('queue', 'other', other.factory, undefined, { load: other.load });
      },
      start() { seenAtStart = [...loaded]; },
    });
    const config = await loadConfig({ cwd: tempProject(), env: { NUVOM_QUEUE_BACKEND: 'acme' } });
    const kernel = await bootKernel({ config, plugins: [provider], logger: memoryLogger().logger });
    expect(seenAtStart).to.deep.equal(['acme']);
    expect(kernel.resolve('queue')).to.deep.equal({ kind: 'acme' });
    // The one config did not choose: never imported, and building it says to load it first.
    expect(() => kernel.container.construct('queue', 'other')).to.throw(/not loaded yet.*container\.load\("queue", "other"\)/);
    await kernel.container.load('queue', 'other');
    await kernel.container.load('queue', 'other');
    expect(kernel.container.construct('queue', 'other')).to.deep.equal({ kind: 'other' });
    expect(loaded).to.deep.equal(['acme', 'other']);
    await kernel.stop();
  });

  it('fails boot naming the service when a chosen implementation cannot be loaded', async () => {
    const provider = definePlugin({
      name: 'acme-queue', apiVersion: 1, provides: ['queue:acme'],
      register(ctx) { ctx.provide('queue', 'acme', () => ({}) as never, undefined, { load: async () => { throw new Error('no driver'); } }); },
    });
    const config = await loadConfig({ cwd: tempProject(), env: { NUVOM_QUEUE_BACKEND: 'acme' } });
    const err = await bootKernel({ config, plugins: [provider], logger: memoryLogger().logger }).catch((e: unknown) => e) as Error & { code?: string };
    expect(err.code).to.equal('NUVOM_E_SERVICE');
    expect(err.message).to.contain('could not load service "queue" (implementation "acme"): no driver');
  });

  it('splits module specs from export names', () => {
    expect(parseSpec('./plugins/q.ts:MyQueue')).to.deep.equal({ module: './plugins/q.ts', exportName: 'MyQueue' });
    expect(parseSpec('@acme/nuvom-s3')).to.deep.equal({ module: '@acme/nuvom-s3', exportName: null });
    expect(parseSpec('C:/x/p.ts')).to.deep.equal({ module: 'C:/x/p.ts', exportName: null });
  });
});
