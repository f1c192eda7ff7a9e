import { expect } from 'chai';
import { cleanupTempProjects, failedWith, killAll, nuvom, project } from './helpers.ts';

const SLEEPY = `export default {
  name: 'sleepy',
  apiVersion: 1,
  start() { return new Promise(() => {}); }, // holds no handle: the process would simply exit
};
`;

describe('cli: plugins and settings that fail at boot', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it("names the plugin whose start() never finishes, after NUVOM_PLUGIN_TIMEOUT_SECS, exit 1", async () => {
    const p = project({ 'sleepy.mjs': SLEEPY, '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./sleepy.mjs"]\n' });
    const r = await nuvom(p, ['version'], { NUVOM_PLUGIN_TIMEOUT_SECS: '0.5' });
    failedWith(r, 1, /sleepy.*start\(\).*500 ms/);
  });

  it('names the setting, its source and the available names for an unknown backend, before anything starts', async () => {
    const p = project();
    const r = await nuvom(p, ['history', 'recent'], { NUVOM_QUEUE_BACKEND: 'redis' });
    failedWith(r, 1, /NUVOM_QUEUE_BACKEND="redis" \(from env NUVOM_QUEUE_BACKEND\).*service "queue".*available: .*memory.*sqlite/);
  });

  it('refuses a listed plugin without a name, saying what a plugin must have', async () => {
    const p = project({ 'nameless.mjs': 'export default { apiVersion: 1 };\n', '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./nameless.mjs"]\n' });
    const r = await nuvom(p, ['version']);
    failedWith(r, 1, /nameless\.mjs.*name/);
  });

  it('refuses a plugin whose register is not a function, naming the plugin', async () => {
    const p = project({ 'odd.mjs': "export default { name: 'odd', apiVersion: 1, register: 5 };\n", '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./odd.mjs"]\n' });
    const r = await nuvom(p, ['version']);
    failedWith(r, 1, /odd.*register/);
  });
});
