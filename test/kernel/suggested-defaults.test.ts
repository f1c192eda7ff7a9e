import { expect } from 'chai';
import { bootKernel, loadConfig, resolvePreset } from '../../sdk/plugin.ts';
import core from '../../presets/core/index.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

/** A project plugin providing a queue under its own name and suggesting it, as docs/plugins.md shows. */
const queuePlugin = (name: string) => `
export default {
  name: '${name}', apiVersion: 1, defaults: { queueBackend: '${name}' },
  register(ctx) { ctx.provide('queue', '${name}', () => ({ kind: '${name}' })); },
};
`;

async function boot(listed: string[], env: Record<string, string> = {}, overrides: Record<string, unknown> = {}) {
  const files: Record<string, string> = { '.nuvom_plugins.toml': `[plugins]\nqueue_backend = [${listed.map((n) => `"./plugins/${n}.mjs"`).join(', ')}]\n` };
  for (const n of listed) files[`plugins/${n}.mjs`] = queuePlugin(n);
  const config = await loadConfig({ cwd: tempProject(files), env, overrides });
  const { logger, lines } = memoryLogger();
  const kernel = await bootKernel({ config, preset: await resolvePreset(core), logger });
  await kernel.stop();
  return { config: kernel.config, lines };
}

describe('defaults suggested by plugins', function () {
  this.timeout(20_000);
  after(cleanupTempProjects);

  it("take a project plugin's suggestion over a built-in's (nuvom-sqlite suggests sqlite), saying so at debug", async () => {
    const { config, lines } = await boot(['acme']);
    expect(config.queueBackend).to.equal('acme');
    expect(config.sources.queueBackend).to.include({ source: 'default', origin: 'acme', owner: 'kernel' });
    expect(config.resultBackend, 'what acme does not suggest stays the built-in\'s').to.equal('sqlite');
    expect(lines).to.include('debug queueBackend: plugin "acme" suggests "acme", which is used over "sqlite" (plugin "nuvom-sqlite") (a preset\'s settings, then the project\'s plugins in the order listed, then the built-ins); set NUVOM_QUEUE_BACKEND to choose');
  });

  it('take the first listed of two project plugins, with a warning naming both', async () => {
    const { config, lines } = await boot(['acme', 'zeta']);
    expect(config.queueBackend).to.equal('acme');
    expect(lines.filter((l) => l.startsWith('warn'))).to.deep.equal([
      'warn queueBackend: plugin "acme" suggests "acme", which is used over "zeta" (plugin "zeta"), "sqlite" (plugin "nuvom-sqlite") (a preset\'s settings, then the project\'s plugins in the order listed, then the built-ins); set NUVOM_QUEUE_BACKEND to choose',
    ]);
  });

  it('stay below every source that sets the value (environment, programmatic config), with nothing logged', async () => {
    for (const [env, overrides] of [[{ NUVOM_QUEUE_BACKEND: 'memory' }, {}], [{}, { queueBackend: 'file' }]] as const) {
      const { config, lines } = await boot(['acme', 'zeta'], env, overrides);
      expect(config.queueBackend).to.equal(env.NUVOM_QUEUE_BACKEND ?? overrides.queueBackend);
      expect(lines.filter((l) => l.includes('suggests'))).to.deep.equal([]);
    }
  });
});
