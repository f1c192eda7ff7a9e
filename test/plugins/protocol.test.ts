/** Declared needs, checked provides, taps named after their plugin, untap (issue 16). */
import { expect } from 'chai';
import { bootKernel, definePlugin, loadConfig, resolvePreset, untap, type NuvomPlugin } from '../../sdk/plugin.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

async function boot(plugins: NuvomPlugin[]) {
  const config = await loadConfig({ cwd: tempProject(), env: {}, noConfigFile: true });
  return bootKernel({ config, plugins, logger: memoryLogger().logger });
}

describe('plugin protocol checks', () => {
  after(cleanupTempProjects);

  it('fails the boot naming the plugin and the service it needs when nobody provides it', async () => {
    const err = await boot([definePlugin({ name: 'needy', apiVersion: 1, needs: ['queue'] })]).catch((e: unknown) => e) as Error & { code: string };
    expect(err.code).to.equal('NUVOM_E_SERVICE_UNKNOWN');
    expect(err.message).to.contain('needy').and.contain('needs service "queue"');
    const ok = await boot([
      definePlugin({ name: 'q', apiVersion: 1, register(ctx) { ctx.provide('queue', 'mine', () => ({}) as never); } }),
      definePlugin({ name: 'needy', apiVersion: 1, needs: ['queue'] }),
    ]);
    await ok.stop();
  });

  it('checks declared "token:name" provides against register() and derives the ones not declared', async () => {
    const liar = definePlugin({ name: 'liar', apiVersion: 1, provides: ['queue:redis'], register(ctx) { ctx.provide('queue', 'memoryish', () => ({}) as never); } });
    const err = await boot([liar]).catch((e: unknown) => e) as Error & { code: string };
    expect(err.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(err.message).to.contain('liar').and.contain('"queue:redis"');
    const k = await boot([definePlugin({ name: 'quiet', apiVersion: 1, provides: ['monitoring'], register(ctx) { ctx.provide('audit', 'x', () => 1); } })]);
    expect(k.resolve('kernelInfo').plugins().find((p) => p.name === 'quiet')!.provides).to.deep.equal(['monitoring', 'audit:x']);
    await k.stop();
  });

  it("names a tap made through the context after its plugin, and untap removes it from the next call", async () => {
    const seen: string[] = [];
    const k = await boot([definePlugin({
      name: 'tapper', apiVersion: 1,
      register(ctx) { ctx.hooks.jobSucceeded.tap('some-other-name', () => { seen.push('tap'); }); },
    })]);
    const hook = k.hooks.jobSucceeded as unknown as { taps: Array<{ name: string }> };
    expect(hook.taps.map((t) => t.name)).to.deep.equal(['tapper']);
    await k.hooks.jobSucceeded.promise({ jobId: 'j', taskName: 't', attempt: 1, at: 0 });
    expect(seen).to.deep.equal(['tap']);
    expect(untap(k.hooks.jobSucceeded, 'tapper')).to.equal(1);
    await k.hooks.jobSucceeded.promise({ jobId: 'j', taskName: 't', attempt: 1, at: 0 });
    expect(seen).to.deep.equal(['tap']);
    await k.stop();
  });

  it('boots without an optional need ("token?"), and resolving it then fails naming the plugin and the service', async () => {
    let ctxOf: Parameters<NonNullable<NuvomPlugin['register']>>[0] | undefined;
    const k = await boot([definePlugin({ name: 'pages', apiVersion: 1, needs: ['scheduler?'], register(ctx) { ctxOf = ctx; } })]);
    try {
      expect(k.resolve('kernelInfo').plugins().find((p) => p.name === 'pages')!.needs).to.deep.equal(['scheduler?']);
      const err = (() => { try { ctxOf!.resolve('scheduler'); return null; } catch (e) { return e as Error & { code: string }; } })();
      expect(err?.code).to.equal('NUVOM_E_SERVICE_UNKNOWN');
      expect(err!.message).to.contain('[plugin "pages"]').and.contain('needs the optional service "scheduler"');
    } finally {
      await k.stop();
    }
    const bad = await boot([definePlugin({ name: 'typo', apiVersion: 1, needs: ['sched uler'] })]).catch((e: unknown) => e) as Error & { code: string };
    expect(bad.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(bad.message).to.contain('"needs" entry "sched uler"');
  });

  it('fails the boot of the default CLI plugins when a service their commands need is left out of the preset', async () => {
    const { default: defaultPreset } = await import('../../presets/default/index.ts');
    const preset = await resolvePreset(defaultPreset, { disable: ['nuvom-jobs'] });
    const config = await loadConfig({ cwd: tempProject(), env: {}, noConfigFile: true });
    const err = await bootKernel({ config, preset, logger: memoryLogger().logger }).catch((e: unknown) => e) as Error & { code: string };
    expect(err.code).to.be.oneOf(['NUVOM_E_SERVICE_UNKNOWN', 'NUVOM_E_PLUGIN_DEPENDENCY']);
    expect(err.message).to.match(/needs service "jobs"|nuvom-jobs/);
  });
});
