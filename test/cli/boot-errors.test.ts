import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { BIN, cleanupTempProjects, failedWith, killAll, nuvom, project } from './helpers.ts';

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

describe('cli: flag values and the project directory', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it('refuses a --cwd that is not a directory (exit 2) and creates nothing there', async () => {
    const p = project();
    const missing = `${p.dir}/no-such-project`;
    const c = spawnSync(process.execPath, [BIN, '--cwd', missing, 'stats'], { cwd: p.dir, encoding: 'utf8' });
    failedWith({ code: c.status, stdout: c.stdout, stderr: c.stderr }, 2, /--cwd ".*no-such-project" is not a directory/);
    expect(existsSync(missing)).to.equal(false);
  });

  it('refuses non-numeric --priority and negative --delay-secs on enqueue as usage errors naming the flag', async () => {
    const p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    failedWith(await nuvom(p, ['enqueue', 'add', '1', '2', '--priority', 'x']), 2, /--priority must be a whole number from -2147483648 to 2147483647 \(32 bits\), got "x"/);
    failedWith(await nuvom(p, ['enqueue', 'add', '1', '2', '--delay-secs', 'abc']), 2, /--delay-secs must be a number from 0 to \d+ \(a run time before year 10000\), got "abc"/);
    // Out of range is a usage error too (exit 2), not the dispatcher's NUVOM_E_TASK_INVALID.
    failedWith(await nuvom(p, ['enqueue', 'add', '1', '2', '--priority', '99999999999']), 2, /--priority must be a whole number from -2147483648 to 2147483647/);
    failedWith(await nuvom(p, ['enqueue', 'add', '1', '2', '--delay-secs', '1e20']), 2, /--delay-secs must be a number from 0 to/);
    expect((await nuvom(p, ['enqueue', 'add', '1', '2', '--priority', '2147483647', '--delay-secs', '86400'])).code).to.equal(0);
  });

  it('refuses a bad dashboard --port as a usage error naming the option (exit 2), not the config key', async () => {
    const p = project();
    failedWith(await nuvom(p, ['dashboard', '--port', 'abc']), 2, /--port must be a whole number from 0 to 65535 .*got "abc"/);
    failedWith(await nuvom(p, ['dashboard', '--port', '70000']), 2, /--port must be a whole number/);
  });

  it('warns on enqueue when the task file changed after the manifest was written, and still enqueues', async () => {
    const p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(p.dir, 'tasks.mjs'), later, later);
    const r = await nuvom(p, ['enqueue', 'add', '1', '2']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.match(/^[\w-]+$/);
    expect(r.stderr).to.match(/task manifest may be stale .*tasks\.mjs changed after the manifest was written.*nuvom discover tasks/);
  });
});
