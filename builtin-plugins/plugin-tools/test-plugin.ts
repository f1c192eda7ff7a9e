/**
 * `nuvom plugin test TARGET`: load and validate a plugin, start and stop it in an isolated kernel
 * (a temporary working directory, the built-ins, the plugin and the listed plugins it depends on),
 * run the conformance kit on every queue, result store and schedule store it provides, each case on
 * a kernel and directory of its own (a durable backend would otherwise carry one case's jobs into the
 * next), and run its `cli` tap on a program with every built-in command. Each check is reported by name.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import {
  bootKernel, importListedPlugins, importPlugin, loadConfig, messageOf, type Catalogue, type Kernel, type NuvomConfig, type NuvomPlugin,
} from '../../sdk/plugin.ts';
import { addPluginCommands } from '../../sdk/cli-taps.ts';
import { runQueueConformance, runResultStoreConformance, runScheduleStoreConformance, runJobStoreConformance, type ConformanceResult } from '../../sdk/testing/index.ts';

export interface CheckResult { name: string; ok: boolean; error?: string }

/** A kernel of its own in a fresh directory, so that each check starts from empty storage. */
type Fresh = (over?: Partial<NuvomConfig>) => Promise<{ kernel: Kernel; cleanup: () => Promise<void> }>;

const SUITES = {
  queue: (fresh: Fresh, name: string) => runQueueConformance(async () => {
    const { kernel, cleanup } = await fresh();
    await kernel.container.load('queue', name); // a lazily loaded implementation config did not choose
    return { queue: kernel.container.construct('queue', name), cleanup };
  }),
  resultStore: (fresh: Fresh, name: string) => runResultStoreConformance(async () => {
    const { kernel, cleanup } = await fresh();
    await kernel.container.load('resultStore', name); // a lazily loaded implementation config did not choose
    return { store: kernel.container.construct('resultStore', name), cleanup };
  }),
  scheduleStore: (fresh: Fresh, name: string) => runScheduleStoreConformance(async () => {
    const { kernel, cleanup } = await fresh();
    await kernel.container.load('scheduleStore', name); // a lazily loaded implementation config did not choose
    return { store: kernel.container.construct('scheduleStore', name), cleanup };
  }),
} as const;

async function isolatedConfig(dir: string, project: NuvomConfig): Promise<NuvomConfig> {
  const config = await loadConfig({ cwd: dir, env: {}, noConfigFile: true });
  // The project's [settings.<plugin>] let a server-backed plugin connect; `isolation` keeps its data apart.
  return Object.freeze({ ...config, pluginSettings: project.pluginSettings, plugins: {}, isolation: randomBytes(4).toString('hex') });
}

export async function testPlugin(target: string, project: NuvomConfig, builtins: NuvomPlugin[], catalogue: Catalogue, onResult: (r: CheckResult) => void): Promise<boolean> {
  let ok = true;
  const report = (r: CheckResult) => { ok &&= r.ok; onResult(r); };
  let plugin: NuvomPlugin;
  try {
    plugin = await importPlugin(target, project.cwd, catalogue);
    report({ name: `loads and has a valid shape (plugin "${plugin.name}", apiVersion ${plugin.apiVersion})`, ok: true });
  } catch (err) {
    report({ name: 'loads and has a valid shape', ok: false, error: messageOf(err) });
    return false;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-plugin-test-'));
  let kernel: Kernel | undefined;
  try {
    const isolated = await isolatedConfig(dir, project);
    let deps: NuvomPlugin[] = [];
    let others = builtins;
    let plugins = [plugin];
    try {
      deps = await listedDependencies(plugin, project, builtins, catalogue);
      // A listed plugin replaces the built-in of its name, as at boot.
      others = builtins.filter((b) => b.name !== plugin.name && !deps.some((d) => d.name === b.name));
      plugins = [...deps, plugin];
      kernel = await bootKernel({ config: isolated, builtins: others, plugins, catalogue, logger: silentLogger() });
      const wth = deps.length ? ` (with ${deps.map((d) => d.name).join(', ')} from ${path.basename(project.pluginsFilePath ?? '.nuvom_plugins.toml')})` : '';
      report({ name: `registers and starts in an isolated kernel${wth}`, ok: true });
    } catch (err) {
      report({ name: 'registers and starts in an isolated kernel', ok: false, error: messageOf(err) });
      return false;
    }
    const provided = kernel.container.tokens().flatMap((token) => kernel!.container.implementations(token)
      .filter((p) => p.plugin === plugin.name).map((p) => ({ token, name: p.name })));
    report({ name: `provides: ${provided.map((p) => `${p.token}:${p.name}`).join(', ') || '(no services)'}`, ok: true });
    const cli = cliCheck(kernel, plugin.name);
    if (cli) report(cli);
    const fresh: Fresh = async (over = {}) => {
      const caseDir = mkdtempSync(path.join(tmpdir(), 'nuvom-plugin-case-'));
      try {
        const k = await bootKernel({ config: Object.freeze({ ...(await isolatedConfig(caseDir, project)), ...over }), builtins: others, plugins, catalogue, logger: silentLogger() });
        return { kernel: k, cleanup: async () => { await k.stop(); rmSync(caseDir, { recursive: true, force: true }); } };
      } catch (err) {
        rmSync(caseDir, { recursive: true, force: true });
        throw err;
      }
    };
    for (const { token, name } of provided) {
      const suite = SUITES[token as keyof typeof SUITES];
      if (!suite) continue;
      const results: ConformanceResult[] = await suite(fresh, name);
      for (const r of results) report({ name: `${token} "${name}": ${r.name}`, ok: r.ok, error: r.error });
    }
    // A combined job store is used when the configuration chooses its name for queue and results:
    // each case boots a kernel configured so (the store writes through that queue and result store).
    for (const { name } of provided.filter((p) => p.token === 'jobStore')) {
      const results = await runJobStoreConformance(async () => {
        const { kernel: k, cleanup } = await fresh({ queueBackend: name, resultBackend: name });
        return { store: k.resolve('jobStore'), serializer: k.resolve('serializer'), cleanup };
      });
      for (const r of results) report({ name: `jobStore "${name}": ${r.name}`, ok: r.ok, error: r.error });
    }
    const stopping = kernel;
    kernel = undefined;
    const failures = (await stopping.stop()).filter((e) => e.plugin === plugin.name);
    report({ name: 'stops cleanly', ok: failures.length === 0, error: failures.map((e) => e.message).join('; ') || undefined });
    return ok;
  } finally {
    await kernel?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The plugins of the project's .nuvom_plugins.toml that `plugin` depends on, directly or through
 * one another, so that a plugin built on another third-party one starts as it does in the project.
 * Only those: the isolated kernel keeps out what the plugin does not ask for. A dependency neither
 * built in nor listed stays missing, and the boot names it.
 */
async function listedDependencies(plugin: NuvomPlugin, project: NuvomConfig, builtins: NuvomPlugin[], catalogue: Catalogue): Promise<NuvomPlugin[]> {
  const builtin = new Set(builtins.map((b) => b.name));
  if (!(plugin.dependsOn ?? []).some((d) => !builtin.has(d))) return [];
  const listed = new Map((await importListedPlugins(project, catalogue)).map((l) => [l.plugin.name, l.plugin]));
  const out = new Map<string, NuvomPlugin>();
  const walk = (p: NuvomPlugin) => {
    for (const d of p.dependsOn ?? []) {
      const dep = listed.get(d);
      if (!dep || d === plugin.name || out.has(d)) continue;
      out.set(d, dep);
      walk(dep);
    }
  };
  walk(plugin);
  return [...out.values()];
}

/**
 * The plugin's `cli` tap, run on a program that already has the commands of every other plugin of the
 * isolated kernel (the built-ins, `plugin test` among them): a tap that throws, such as a command named
 * like a built-in one, costs the plugin its commands in every `nuvom` run. None when it adds no commands.
 */
function cliCheck(kernel: Kernel, name: string): CheckResult | undefined {
  if (!kernel.hooks.cli.taps.some((t) => t.name === name)) return undefined;
  const program = new Command('nuvom');
  addPluginCommands(kernel.hooks.cli, program, (plugin) => plugin !== name);
  const { failures, ownerOf } = addPluginCommands(kernel.hooks.cli, program, (plugin) => plugin === name);
  const check = 'adds its CLI commands beside the built-in ones';
  if (failures.length) {
    return { name: check, ok: false, error: `${messageOf(failures[0].error)}; its commands would be left out of every nuvom run: rename the command (taken already: ${program.commands.map((c) => c.name()).join(', ')})` };
  }
  const added: string[] = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      if (ownerOf(sub) === name) added.push(`${prefix}${sub.name()}`);
      else walk(sub, `${prefix}${sub.name()} `);
    }
  };
  walk(program, '');
  return { name: `${check} (${added.join(', ') || 'none added'})`, ok: true };
}

function silentLogger() {
  const l = { debug() {}, info() {}, warn() {}, error() {}, child: () => l };
  return l;
}
