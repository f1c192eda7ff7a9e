import { expect } from 'chai';
import { createClient } from '../../sdk/index.ts';
import { bootKernel, loadConfig, resolvePreset } from '../../sdk/plugin.ts';
import core from '../../presets/core/index.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

describe('a plugin named like a built-in', function () {
  this.timeout(20_000);
  after(cleanupTempProjects);

  it('logs that it replaces the built-in, naming the listed spec, and the "chooses none" error says which setting chooses', async () => {
    const dir = tempProject({
      'plugins/sqlite.mjs': 'export default { name: "nuvom-sqlite", apiVersion: 1 };\n',
      '.nuvom_plugins.toml': '[plugins]\nqueue_backend = ["./plugins/sqlite.mjs"]\n',
    });
    const config = await loadConfig({ cwd: dir, env: {} });
    const { logger, lines } = memoryLogger();
    const kernel = await bootKernel({ config, preset: await resolvePreset(core, { disable: config.presetDisable }), logger });
    try {
      expect(lines.filter((l) => l.includes('replaced'))).to.deep.equal([
        'info the built-in plugin "nuvom-sqlite" of preset nuvom-core is replaced by the plugin of that name from ./plugins/sqlite.mjs; what the built-in provided and the defaults it suggested are gone with it',
      ]);
      expect(() => kernel.resolve('queue')).to.throw(/service "queue" has several implementations \(memory, file\) and the configuration chooses none; choose one with NUVOM_QUEUE_BACKEND=<name> \(or "queueBackend" in a config file or createClient\(\{ config \}\)\)/);
    } finally {
      await kernel.stop();
    }
  });

  it('logs the replacement when passed to createClient({ plugins }), whose preset never imports the built-in', async () => {
    const { logger, lines } = memoryLogger();
    const client = await createClient({
      cwd: tempProject(), env: {}, logger, plugins: [{ name: 'nuvom-file', apiVersion: 1 }],
      config: { queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory' },
    });
    await client.close();
    expect(lines.filter((l) => l.includes('replaced'))).to.deep.equal([
      'info the built-in plugin "nuvom-file" of preset nuvom-default is replaced by the plugin of that name passed in plugins (programmatic); what the built-in provided and the defaults it suggested are gone with it',
    ]);
  });

  it('says to choose a service without its own setting through NUVOM_SERVICES, which does choose it', async () => {
    const acme = (name: string) => ({ name, apiVersion: 1 as const, register(ctx: { provide: (t: never, n: string, f: () => never) => void }) { ctx.provide('audit' as never, name, () => ({ name }) as never); } });
    const config = await loadConfig({ cwd: tempProject(), env: {} });
    const kernel = await bootKernel({ config, plugins: [acme('one'), acme('two')], logger: memoryLogger().logger });
    try {
      expect(() => kernel.resolve('audit' as never)).to.throw(/service "audit" has several implementations \(one, two\) and the configuration chooses none; choose one with NUVOM_SERVICES=audit=<name> \(or "services": \{ "audit": "<name>" \} in a config file\)/);
    } finally {
      await kernel.stop();
    }
    const chosen = await bootKernel({ config: await loadConfig({ cwd: tempProject(), env: { NUVOM_SERVICES: 'audit=two' } }), plugins: [acme('one'), acme('two')], logger: memoryLogger().logger });
    expect(chosen.resolve('audit' as never)).to.deep.equal({ name: 'two' });
    await chosen.stop();
  });
});
