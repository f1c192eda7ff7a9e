import { expect } from 'chai';
import { cleanupTempProjects, killAll, nuvom, project } from './helpers.ts';

/** Adds `acme-ok` and `plugin acme-sub`, then takes the built-in `status`: commander refuses the third. */
const CLASH = `export default { name: 'acme-cliclash', apiVersion: 1, register(ctx) {
  ctx.hooks.cli.tap('acme-cliclash', ({ program }) => {
    program.command('acme-ok').action(() => { process.stdout.write('acme ok\\n'); });
    program.commands.find((c) => c.name() === 'plugin').command('acme-sub').action(() => {});
    program.command('status').action(() => { process.stdout.write('not the built-in\\n'); });
  });
} };
`;
const FINE = `export default { name: 'acme-fine', apiVersion: 1, register(ctx) {
  ctx.hooks.cli.tap('acme-fine', ({ program }) => { program.command('acme-fine').action(() => { process.stdout.write('fine\\n'); }); });
} };
`;

describe('cli: a plugin whose cli tap throws', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  const clashing = () => project({
    'plugins/clash.mjs': CLASH, 'plugins/fine.mjs': FINE,
    '.nuvom_plugins.toml': '[plugins]\ncli = ["./plugins/clash.mjs", "./plugins/fine.mjs"]\n',
  });

  it('costs only its own commands: the others work, and stderr names the plugin, the error and the fix', async () => {
    const p = clashing();
    for (const args of [['--help'], ['config'], ['plugin', 'status'], ['acme-fine']]) {
      const r = await nuvom(p, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.stderr).to.match(/WARN +\[plugin "acme-cliclash", hook "cli"\] cannot add command 'status' as already have command 'status' \(NUVOM_E_HOOK\); the commands of plugin "acme-cliclash" are left out: rename the command in the plugin, or remove the plugin \(\.\/plugins\/clash\.mjs\) from \.nuvom_plugins\.toml/);
    }
    expect((await nuvom(p, ['acme-fine'])).stdout).to.equal('fine\n');
  });

  it('leaves none of the commands it added before the throw, and the built-in command it clashed with intact', async () => {
    const p = clashing();
    const help = await nuvom(p, ['--help']);
    expect(help.stdout).not.to.contain('acme-ok');
    expect(help.stdout).to.contain('acme-fine');
    const ok = await nuvom(p, ['acme-ok']);
    expect(ok.code).to.equal(2);
    expect(ok.stderr).to.contain("unknown command 'acme-ok'");
    const sub = await nuvom(p, ['plugin', 'acme-sub']);
    expect(sub.code).to.equal(2);
    expect(sub.stderr).to.contain("unknown command 'acme-sub'");
    const status = await nuvom(p, ['status', '--help']);
    expect(status.stdout).to.contain("one line: the job's status");
  });
});

/** `acme-crash` throws a plain Error, `acme report` rejects with one, `acme down` throws a NuvomError naming the plugin. */
const CRASH = `import { NuvomError } from 'nuvom/plugin';
export default { name: 'acme-crash', apiVersion: 1, errors: { NUVOM_E_ACME_DOWN: 'acme did not answer' }, register(ctx) {
  ctx.hooks.cli.tap('acme-crash', ({ program }) => {
    program.command('acme-crash').action(() => { throw new Error('plain crash in acme'); });
    const acme = program.command('acme');
    acme.command('report').action(async () => { await null; throw new Error('report failed'); });
    acme.command('down').action(() => { throw new NuvomError('NUVOM_E_ACME_DOWN', 'acme did not answer', { plugin: 'acme-crash' }); });
  });
} };
`;

describe("cli: an error from a plugin's command", function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it('names the plugin and the command for a plain Error, exit 1', async () => {
    const p = project({ 'plugins/crash.mjs': CRASH, '.nuvom_plugins.toml': '[plugins]\ncli = ["./plugins/crash.mjs"]\n' });
    const r = await nuvom(p, ['acme-crash']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal('error: [plugin "acme-crash", command "acme-crash"] plain crash in acme\n');
    const sub = await nuvom(p, ['acme', 'report']);
    expect(sub.code).to.equal(1);
    expect(sub.stderr).to.equal('error: [plugin "acme-crash", command "acme report"] report failed\n');
  });

  it("leaves an error that already names its plugin, and the built-in commands' errors, as they were", async () => {
    const p = project({ 'plugins/crash.mjs': CRASH, '.nuvom_plugins.toml': '[plugins]\ncli = ["./plugins/crash.mjs"]\n' });
    const down = await nuvom(p, ['acme', 'down']);
    expect(down.code).to.equal(1);
    expect(down.stderr).to.equal('error: [plugin "acme-crash"] acme did not answer (NUVOM_E_ACME_DOWN)\n');
    const builtin = await nuvom(p, ['status', 'nosuch']);
    expect(builtin.code).to.equal(1);
    expect(builtin.stderr).to.match(/^error: no nuvom database at /);
  });
});
