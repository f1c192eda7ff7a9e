import { expect } from 'chai';
import { cleanupTempProjects, killAll, nuvom, project } from './helpers.ts';

describe('cli: plugin test on the durable built-in backends', function () {
  this.timeout(120_000);
  after(() => { killAll(); cleanupTempProjects(); });

  for (const spec of ['nuvom/plugins/sqlite', 'nuvom/plugins/file']) {
    it(`passes ${spec}: every conformance case starts from empty storage`, async () => {
      const r = await nuvom(project(), ['plugin', 'test', spec]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/queue "(sqlite|file)": claim returns an enqueued job/);
      expect(r.stdout).not.to.match(/^FAIL/m);
      expect(r.stdout).to.match(/all checks passed/);
      // A plugin's job store (queue and records together) runs the job store cases; the file plugin has none.
      if (spec.endsWith('sqlite')) expect(r.stdout).to.match(/^ok +jobStore "sqlite": settle is fenced after a takeover/m);
      else expect(r.stdout).not.to.match(/jobStore/);
    });
  }
});

describe('cli: plugin test on a plugin that adds commands', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it('fails a plugin whose cli tap adds a command named like a built-in one, naming the clash', async () => {
    const p = project({
      'plugins/clash.mjs': `export default { name: 'acme-cliclash', apiVersion: 1, register(ctx) {
  ctx.hooks.cli.tap('acme-cliclash', ({ program }) => { program.command('acme-ok'); program.command('status'); });
} };
`,
    });
    const r = await nuvom(p, ['plugin', 'test', './plugins/clash.mjs']);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).to.match(/^FAIL adds its CLI commands beside the built-in ones\n +\[plugin "acme-cliclash", hook "cli"\] cannot add command 'status' as already have command 'status'; .*rename the command \(taken already: .*\bstatus\b/m);
    expect(r.stdout).to.match(/1 check\(s\) failed/);
  });

  it("passes a plugin whose commands take no built-in name, listing them (plugin test's own `plugin` command included)", async () => {
    const p = project({
      'plugins/fine.mjs': `export default { name: 'acme-fine', apiVersion: 1, register(ctx) {
  ctx.hooks.cli.tap('acme-fine', ({ program }) => {
    program.command('acme-fine');
    program.commands.find((c) => c.name() === 'plugin').command('acme-sub');
  });
} };
`,
      'plugins/taken.mjs': `export default { name: 'acme-taken', apiVersion: 1, register(ctx) {
  ctx.hooks.cli.tap('acme-taken', ({ program }) => { program.commands.find((c) => c.name() === 'plugin').command('scaffold'); });
} };
`,
    });
    const ok = await nuvom(p, ['plugin', 'test', './plugins/fine.mjs']);
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^ok +adds its CLI commands beside the built-in ones \(plugin acme-sub, acme-fine\)$/m);
    const taken = await nuvom(p, ['plugin', 'test', './plugins/taken.mjs']);
    expect(taken.code).to.equal(1);
    expect(taken.stdout).to.contain("cannot add command 'scaffold' as already have command 'scaffold'");
  });
});

describe('cli: plugin test on a plugin that depends on another third-party plugin', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  const plugin = (name: string, dependsOn: string[], register = '') => `export default { name: '${name}', apiVersion: 1, dependsOn: ${JSON.stringify(dependsOn)}, register(ctx) { ${register} } };\n`;

  it('starts it with the plugins it depends on from .nuvom_plugins.toml, transitively, and only those', async () => {
    const p = project({
      'plugins/base.mjs': plugin('acme-base', []),
      'plugins/first.mjs': plugin('acme-first', ['acme-base']),
      'plugins/dep.mjs': plugin('acme-dep', ['acme-first', 'nuvom-jobs']),
      // Listed, not depended on: it refuses to register in plugin test's isolated kernels.
      'plugins/other.mjs': plugin('acme-other', [], "if (ctx.config.isolation) throw new Error('acme-other was loaded into the isolated kernel');"),
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/other.mjs", "./plugins/dep.mjs", "./plugins/first.mjs", "./plugins/base.mjs"]\n',
    });
    expect((await nuvom(p, ['version'])).code).to.equal(0);
    const r = await nuvom(p, ['plugin', 'test', './plugins/dep.mjs']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ok +registers and starts in an isolated kernel \(with acme-first, acme-base from \.nuvom_plugins\.toml\)$/m);
    expect(r.stdout).to.contain('all checks passed');
  });

  it('still names a dependency that is neither built in nor listed', async () => {
    // Not listed itself (the project's own boot would fail on the missing dependency).
    const p = project({
      'plugins/dep.mjs': plugin('acme-dep', ['acme-first']), 'plugins/base.mjs': plugin('acme-base', []),
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/base.mjs"]\n',
    });
    const r = await nuvom(p, ['plugin', 'test', './plugins/dep.mjs']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/^FAIL registers and starts in an isolated kernel\n +\[plugin "acme-dep"\] depends on plugin "acme-first", which is not loaded; add it to \.nuvom_plugins\.toml or remove the dependency/m);
  });
});
