import { expect } from 'chai';
import { Command } from 'commander';
import { addDiscoveryCommands, progressIndicator } from '../../builtin-plugins/discovery/cli.ts';
import discoveryPlugin from '../../builtin-plugins/discovery/index.ts';
import { bootKernel, createLogger, loadConfig, type NuvomConfig } from '../../sdk/plugin.ts';
import { IMPORT, tempProject, type TempProject } from './helpers.ts';

class Capture {
  text = '';
  isTTY = false;
  write(chunk: string) { this.text += chunk; return true; }
}

async function cli(p: TempProject, ...args: string[]) {
  const program = new Command('nuvom').exitOverride();
  const stdout = new Capture();
  const stderr = new Capture();
  addDiscoveryCommands(program, { cwd: p.root, manifestPath: '.nuvom/manifest.json' } as unknown as NuvomConfig, { stdout, stderr });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { stdout: stdout.text, stderr: stderr.text, exitCode: process.exitCode ?? 0 };
  } finally {
    process.exitCode = before;
  }
}

describe('discovery: CLI commands', () => {
  let p: TempProject;
  afterEach(() => p.cleanup());

  it('`discover tasks` prints added tasks with file:line and a summary', async () => {
    p = tempProject({ 'tasks/math.ts': `${IMPORT}\nexport const add = task({ name: 'add' }, async (a: number, b: number) => a + b);\n` });
    const r = await cli(p, 'discover', 'tasks');
    expect(r.stdout).to.include('+ add  (tasks/math.ts:3)');
    expect(r.stdout).to.match(/1 task in 1 file \(1 parsed, 0 cached\) in \d+ ms; manifest written to .nuvom\/manifest.json/);
    expect(r.exitCode).to.equal(0);
  });

  it('`discover tasks` prints removed and modified tasks', async () => {
    p = tempProject({ 'a.ts': `${IMPORT}export const a = task({ name: 'a' }, async () => 1);\nexport const b = task({ name: 'b' }, async () => 1);\n` });
    await cli(p, 'discover', 'tasks');
    p.write('a.ts', `${IMPORT}export const a = task({ name: 'a', retries: 1 }, async () => 1);\n`);
    const r = await cli(p, 'discover', 'tasks');
    expect(r.stdout).to.include('- b  (a.ts:3)').and.include('~ a  (a.ts:2)  options changed');
  });

  it('`discover tasks` prints problems to stderr as file:line:col: message', async () => {
    p = tempProject({ 'bad.ts': `${IMPORT}const = ;\n` });
    const r = await cli(p, 'discover', 'tasks');
    expect(r.stderr).to.match(/^bad\.ts:2:7: syntax error/);
    expect(r.stdout).not.to.include('syntax error');
    expect(r.exitCode).to.equal(0);
  });

  it('`discover tasks` exits 1 on duplicate names, naming both places', async () => {
    p = tempProject({ 'a.ts': `${IMPORT}export const x = task({ name: 'dup' }, async () => 1);\n`, 'b.ts': `${IMPORT}export const y = task({ name: 'dup' }, async () => 1);\n` });
    const r = await cli(p, 'discover', 'tasks');
    expect(r.exitCode).to.equal(1);
    expect(r.stderr).to.include('"dup"').and.include('a.ts:2 and b.ts:2');
  });

  it('`discover tasks --root --include --exclude` scans what they select, paths shown from the working directory', async () => {
    p = tempProject({
      'src/a.ts': `${IMPORT}export const a = task({ name: 'a' }, async () => 1);\n`,
      'src/a.test.ts': `${IMPORT}export const t = task({ name: 't' }, async () => 1);\n`,
      'src/other/b.ts': `${IMPORT}export const b = task({ name: 'b' }, async () => 1);\n`,
    });
    const r = await cli(p, 'discover', 'tasks', '--root', 'src', '--include', '*.ts', '--include', 'x/**', '--exclude', '*.test.ts');
    expect(r.stdout).to.include('+ a  (src/a.ts:2)').and.not.include('+ b').and.not.include('+ t');
  });

  it('`discover tasks --root` of a missing directory is a usage error (exit 2)', async () => {
    p = tempProject();
    const r = await cli(p, 'discover', 'tasks', '--root', 'nope');
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.include('NUVOM_E_USAGE').and.include('not a directory');
  });

  it('`list tasks` prints a table of name, file:line and export', async () => {
    p = tempProject({ 'tasks/math.ts': `${IMPORT}export const add = task({ name: 'math.add' }, async () => 1);\n` });
    await cli(p, 'discover', 'tasks');
    const r = await cli(p, 'list', 'tasks');
    expect(r.stdout.split('\n')[0]).to.match(/^NAME\s+FILE:LINE\s+EXPORT$/);
    expect(r.stdout).to.match(/math\.add\s+tasks\/math\.ts:2\s+add/);
  });

  it('`list tasks` fits its table to $COLUMNS off a terminal', async () => {
    p = tempProject({ 'src/jobs/notifications/email.ts': `${IMPORT}export const sendWelcomeEmail = task({ name: 'notifications.sendWelcomeEmail' }, async () => 1);\n` });
    await cli(p, 'discover', 'tasks');
    const before = process.env.COLUMNS;
    process.env.COLUMNS = '30';
    try {
      const r = await cli(p, 'list', 'tasks');
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.length).to.be.greaterThan(1);
      for (const l of lines) expect(l.length, l).to.be.at.most(30);
    } finally {
      if (before === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = before;
    }
  });

  it('`list tasks --json` prints pure JSON on stdout', async () => {
    p = tempProject({ 'a.ts': `${IMPORT}export const a = task({ name: 'a', retries: 2 }, async () => 1);\n` });
    await cli(p, 'discover', 'tasks');
    const r = await cli(p, 'list', 'tasks', '--json');
    expect(JSON.parse(r.stdout)).to.deep.equal([{ name: 'a', file: 'a.ts', export: 'a', line: 2, options: { retries: 2 }, signature: { params: [], required: 0 } }]);
  });

  it('`list tasks` without a manifest says to run discover and exits 1', async () => {
    p = tempProject();
    const r = await cli(p, 'list', 'tasks', '--json');
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include('NUVOM_E_MANIFEST').and.include('nuvom discover tasks');
    expect(r.exitCode).to.equal(1);
  });

  it('`list tasks` warns on stderr when the manifest is stale', async () => {
    p = tempProject({ 'a.ts': '' });
    await cli(p, 'discover', 'tasks');
    p.write('b.ts', '');
    const r = await cli(p, 'list', 'tasks');
    expect(r.stderr).to.include('stale').and.include('b.ts is new');
  });

  it('shows no progress indicator when stderr is not a TTY', () => {
    const err = new Capture();
    const progress = progressIndicator(err);
    progress.update({ done: 1, total: 2, elapsedMs: 5000 });
    expect(err.text).to.equal('');
  });

  it('shows the progress indicator on a TTY only after 300 ms, and clears it', () => {
    const err = new Capture();
    err.isTTY = true;
    const progress = progressIndicator(err);
    progress.update({ done: 1, total: 9, elapsedMs: 100 });
    expect(err.text).to.equal('');
    progress.update({ done: 5, total: 9, elapsedMs: 400 });
    expect(err.text).to.include('5/9');
    progress.clear();
    expect(err.text.endsWith('\r\x1b[K')).to.equal(true);
  });
});

describe('discovery: the plugin', () => {
  it('provides the discovery service and adds its commands through the cli hook', async () => {
    const p = tempProject({ 'a.ts': `${IMPORT}export const a = task({ name: 'a' }, async () => 1);\n` });
    try {
      const config = await loadConfig({ cwd: p.root, env: {}, noConfigFile: true });
      const kernel = await bootKernel({ config, builtins: [discoveryPlugin], logger: createLogger({ level: 'silent' }) });
      try {
        const service = kernel.resolve('discovery') as { discover: (o: object) => Promise<{ manifest: { tasks: unknown[] } }> };
        const r = await service.discover({ root: p.root, manifestPath: p.manifestPath });
        expect(r.manifest.tasks).to.have.length(1);
        const program = new Command('nuvom');
        kernel.hooks.cli.call({ program });
        expect(program.commands.map((c) => c.name())).to.include.members(['discover', 'list']);
      } finally {
        await kernel.stop();
      }
    } finally {
      p.cleanup();
    }
  });
});
