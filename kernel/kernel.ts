/**
 * The kernel: a hook bus, a service container, and the plugin host that fills them. It knows the
 * service tokens and hook types it declares and nothing else about queues or jobs.
 * Must never: import from builtin-plugins/, cli/ or sdk/.
 */
import type { Clock, Logger } from './contracts.ts';
import { ServiceContainer } from './container.ts';
import { importListedPlugins } from './config/load.ts';
import { CONFIG_KEYS, type KernelSettings, type NuvomConfig } from './config/schema.ts';
import { resolveSettings, settingsFor } from './config/settings.ts';
import { errorCodeProblem, NuvomError } from './errors.ts';
import { HookBus, hooksFor } from './hooks.ts';
import { createLogger } from './logger.ts';
import type { ResolvedPreset } from './preset.ts';
import type { NuvomPlugin, PluginContext, Services } from './plugin.ts';
import {
  orderPlugins, startPlugins, stopPlugins, validatePlugins, type Catalogue, type HostTimeouts, type LoadedPlugin,
} from './plugin-host.ts';

/** Which configuration key chooses the implementation of which service token. */
export const SERVICE_SELECTIONS: Readonly<Record<string, keyof KernelSettings>> = Object.freeze({
  queue: 'queueBackend',
  resultStore: 'resultBackend',
  scheduleStore: 'schedulerBackend',
  serializer: 'serializationBackend',
});

export interface BootOptions {
  config: NuvomConfig;
  /**
   * The preset to boot (resolvePreset()): its plugins come first, its settings are defaults, its
   * catalogue names optional plugins. A listed or programmatic plugin with the name of one of its
   * plugins replaces that plugin.
   */
  preset?: ResolvedPreset;
  /** Built-in plugins, applied before those listed in .nuvom_plugins.toml (added to the preset's). */
  builtins?: NuvomPlugin[];
  /** Extra plugin objects (programmatic use, tests). */
  plugins?: NuvomPlugin[];
  /**
   * Preset plugins the caller left out of `preset` because one of `plugins` has their name
   * (createClient does, so that the preset's is never imported); logged as replaced, like the ones
   * replaced here.
   */
  replacedPresetPlugins?: readonly string[];
  /** Specs such as "nuvom/plugins/prometheus" that map to bundled plugins. */
  catalogue?: Catalogue;
  logger?: Logger;
  clock?: Clock;
  timeouts?: Partial<HostTimeouts>;
}

export class Kernel {
  readonly bus: HookBus;
  readonly container = new ServiceContainer<Services>();
  private readonly errorCodes = new Map<string, { meaning: string; plugin: string }>();
  private stopped = false;

  constructor(
    readonly config: NuvomConfig,
    readonly logger: Logger,
    readonly plugins: LoadedPlugin[],
    private readonly timeouts: HostTimeouts,
    clock: Clock,
    readonly catalogue: Catalogue = {},
  ) {
    // Plugins' own hooks and error codes exist before any plugin registers (one may tap another's).
    this.bus = new HookBus(logger, plugins.flatMap((l) => Object.entries(l.plugin.hooks ?? {}).map(([name, kind]) => ({ owner: l.plugin.name, name, kind }))));
    for (const l of plugins) {
      for (const [code, meaning] of Object.entries(l.plugin.errors ?? {})) {
        const problem = errorCodeProblem(code, meaning);
        if (problem) throw new NuvomError('NUVOM_E_PLUGIN_INVALID', problem, { plugin: l.plugin.name });
        const other = this.errorCodes.get(code);
        if (other) throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `error code "${code}" is already declared by plugin "${other.plugin}"; pick another code`, { plugin: l.plugin.name });
        this.errorCodes.set(code, { meaning, plugin: l.plugin.name });
      }
    }
    this.container.value('config', config);
    this.container.value('logger', logger);
    this.container.value('clock', clock);
    this.container.value('bus', this.bus);
    this.container.value('kernelInfo', {
      presetPlugins: () => this.plugins.filter((l) => l.source === 'builtin').map((l) => l.plugin),
      catalogue: () => this.catalogue,
      errorCodes: () => Object.fromEntries(this.errorCodes),
      plugins: () => this.plugins.map((l) => ({
        name: l.plugin.name, version: l.plugin.version, source: l.source, state: l.state,
        provides: this.providesOf(l.plugin), dependsOn: l.plugin.dependsOn ?? [], needs: l.plugin.needs ?? [],
      })),
      services: () => Object.fromEntries(this.container.tokens().map((t) => [t, {
        selected: this.container.selection(t), available: this.container.implementations(t).map((p) => p.name),
      }])),
    });
    // An empty choice (no source set it, no plugin suggested one): the only implementation loaded, if one.
    for (const [token, key] of Object.entries(SERVICE_SELECTIONS)) if (config[key]) this.container.select(token, String(config[key]));
    // A combined job store is chosen by choosing one implementation for both queue and results.
    this.container.select('jobStore', config.queueBackend && config.queueBackend === config.resultBackend ? String(config.queueBackend) : '-');
    for (const [token, name] of Object.entries(config.services ?? {})) if (!(token in SERVICE_SELECTIONS)) this.container.select(token, name);
    // With several implementations and no choice, the preset's one (if exactly one) is the default.
    this.container.prefer(new Set(plugins.filter((l) => l.source === 'builtin').map((l) => l.plugin.name)));
    this.container.explainChoice((token) => {
      const key = SERVICE_SELECTIONS[token];
      return key
        ? `choose one with ${CONFIG_KEYS[key].env}=<name> (or "${key}" in a config file or createClient({ config }))`
        : `choose one with NUVOM_SERVICES=${token}=<name> (or "services": { "${token}": "<name>" } in a config file)`;
    });
  }

  /** The plugin's declared capabilities plus every "token:name" its register() provided. */
  providesOf(plugin: NuvomPlugin): string[] {
    const out = [...(plugin.provides ?? [])];
    for (const token of this.container.tokens()) {
      for (const p of this.container.implementations(token)) if (p.plugin === plugin.name && !out.includes(`${token}:${p.name}`)) out.push(`${token}:${p.name}`);
    }
    return out;
  }

  get hooks() {
    return this.bus.hooks;
  }

  /**
   * Every implementation a setting chooses exists, checked at boot (before any plugin
   * starts), so that a typo in NUVOM_QUEUE_BACKEND fails at once, naming the setting and where it
   * was set, rather than at the first enqueue.
   */
  checkSelections(): void {
    const services = this.config.services ?? {};
    const src = this.config.sources.services;
    const from = src ? `${src.source}${src.origin ? ` ${src.origin}` : ''}` : 'default';
    for (const [token, name] of Object.entries(services)) {
      if (token in SERVICE_SELECTIONS) {
        const key = SERVICE_SELECTIONS[token];
        throw new NuvomError('NUVOM_E_CONFIG', `NUVOM_SERVICES (from ${from}) chooses "${token}", which has its own setting; use ${CONFIG_KEYS[key].env} (${key}) instead`);
      }
      const impls = this.container.implementations(token).map((p) => p.name);
      if (!impls.includes(name)) {
        throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `NUVOM_SERVICES (from ${from}) chooses "${name}" for service "${token}", which no loaded plugin provides; available: ${impls.join(', ') || '(none)'}. Fix the setting, or list the plugin that provides "${name}" in .nuvom_plugins.toml`);
      }
    }
    for (const l of this.plugins) {
      // Declared needs: a plugin that resolves a service nobody provides fails here, not at first use.
      for (const token of l.plugin.needs ?? []) {
        if (!/^[a-z]\w*\??$/i.test(token)) {
          throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `"needs" entry "${token}" must be a service token, with "?" at the end when optional ("scheduler?")`, { plugin: l.plugin.name });
        }
        // "token?" is an optional need: resolved only by some commands, so its absence is no boot error.
        if (!token.endsWith('?') && !this.container.has(token)) {
          throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `needs service "${token}", which no loaded plugin provides; load a plugin that provides it (or do not leave it out of the preset)`, { plugin: l.plugin.name });
        }
      }
      // Declared "token:name" capabilities must match what register() provided.
      for (const cap of l.plugin.provides ?? []) {
        const i = cap.indexOf(':');
        if (i <= 0) continue;
        const [token, name] = [cap.slice(0, i), cap.slice(i + 1)];
        const p = this.container.implementations(token).find((x) => x.name === name);
        if (!p || p.plugin !== l.plugin.name) {
          throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `declares provides "${cap}" but its register() did not provide service "${token}" as "${name}"; provide it or fix the list`, { plugin: l.plugin.name });
        }
      }
    }
    for (const [token, key] of Object.entries(SERVICE_SELECTIONS)) {
      const impls = this.container.implementations(token).map((p) => p.name);
      const name = String(this.config[key]);
      const src = this.config.sources[key];
      if (!name) continue;
      // A default that a partial kernel (a test, a tool) does not provide is reported when resolved.
      if (impls.length === 0 || impls.includes(name) || src.source === 'default') continue;
      const where = `${src.source}${src.origin ? ` ${src.origin}` : ''}`;
      throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `${CONFIG_KEYS[key].env}="${name}" (from ${where}) chooses no loaded implementation of service "${token}"; available: ${impls.join(', ')}. Fix the setting, or list the plugin that provides "${name}" in .nuvom_plugins.toml`);
    }
  }

  resolve<K extends keyof Services & string>(token: K): Services[K] {
    return this.container.resolve(token);
  }

  /** The health checker of the chosen implementation of `token` (StorageHealth), if it has one. */
  healthOf(token: string) {
    return this.container.healthOf(token);
  }

  contextFor(plugin: NuvomPlugin): PluginContext {
    const logger = this.logger.child({ plugin: plugin.name });
    return {
      plugin: plugin.name,
      config: this.config,
      settings: settingsFor(this.config, plugin),
      logger,
      hooks: hooksFor(this.bus.hooks, plugin.name),
      bus: this.bus,
      provide: (token, name, factory, dispose, options) => this.container.provide(plugin.name, token, name, factory, dispose, options),
      healthOf: (token) => this.container.healthOf(token),
      resolve: (token) => {
        if (!this.container.has(token) && plugin.needs?.includes(`${token}?`)) {
          throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `this needs the optional service "${token}", which no loaded plugin provides; load a plugin that provides it (or do not leave it out of the preset)`, { plugin: plugin.name });
        }
        return this.container.resolve(token);
      },
      implementations: (token) => this.container.implementations(token).map((p) => p.name),
    };
  }

  /**
   * Stops plugins in reverse start order, then disposes services newest first. Failures are logged
   * and returned (one plugin's failure does not keep the others running). Idempotent.
   */
  async stop(): Promise<NuvomError[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const errors = await stopPlugins(this.plugins, this.timeouts);
    for (const e of await this.container.dispose()) {
      errors.push(new NuvomError('NUVOM_E_PLUGIN_STOP', `disposing ${e.key} failed: ${String((e.error as Error)?.message ?? e.error)}`, { plugin: e.plugin, cause: e.error }));
    }
    for (const e of errors) this.logger.error(e.message, { code: e.code });
    return errors;
  }
}

/** Loads, validates, orders, registers and starts every plugin; returns a running kernel. */
export async function bootKernel(opts: BootOptions): Promise<Kernel> {
  const catalogue = { ...opts.preset?.catalogue, ...opts.catalogue };
  const listed = await importListedPlugins(opts.config, catalogue);
  const added: LoadedPlugin[] = [];
  // Programmatic plugins pass the checks a listed one does (a typo must not boot silently).
  for (const p of validatePlugins(opts.plugins, 'bootKernel()')) added.push({ plugin: p, source: 'programmatic', state: 'loaded' });
  for (const { plugin, spec, capability } of listed) added.push({ plugin, source: spec, capability, state: 'loaded' });
  // A listed or programmatic plugin named like a preset plugin replaces it.
  const replacing = new Map(added.map((l) => [l.plugin.name, l]));
  const loaded: LoadedPlugin[] = [];
  const replaced = [...(opts.replacedPresetPlugins ?? [])].filter((name) => replacing.has(name));
  for (const p of [...(opts.preset?.plugins ?? []), ...(opts.builtins ?? [])]) {
    if (!replacing.has(p.name)) loaded.push({ plugin: p, source: 'builtin', state: 'loaded' });
    else if (!replaced.includes(p.name)) replaced.push(p.name);
  }
  loaded.push(...added);
  const ordered = orderPlugins(loaded);
  // Every plugin is known now: resolve their settings (in load order, which decides suggested defaults).
  const presetDefaults = opts.preset ? { preset: opts.preset.name, settings: opts.preset.settings } : undefined;
  const notes: Array<{ level: 'debug' | 'warn'; message: string }> = [];
  const thirdParty = new Set(added.map((l) => l.plugin.name));
  const config = resolveSettings(opts.config, loaded.map((l) => l.plugin), true, presetDefaults, { thirdParty, notes });
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  for (const n of notes) logger[n.level](n.message);
  // Replacing a built-in is allowed but said: its services and suggested defaults go with it (unsaid,
  // it showed only as a puzzling NUVOM_E_SERVICE_UNKNOWN later).
  for (const name of replaced) {
    const source = replacing.get(name)!.source;
    const from = source === 'programmatic' ? 'passed in plugins (programmatic)' : `from ${source}`;
    logger.info(`the built-in plugin "${name}"${opts.preset ? ` of preset ${opts.preset.name}` : ''} is replaced by the plugin of that name ${from}; what the built-in provided and the defaults it suggested are gone with it`);
  }
  const limitMs = config.pluginTimeoutSecs * 1000;
  const timeouts: HostTimeouts = { startMs: limitMs, stopMs: limitMs, ...opts.timeouts };
  const kernel = new Kernel(config, logger, ordered, timeouts, opts.clock ?? { now: () => Date.now() }, catalogue);
  const known = new Set(ordered.map((l) => l.plugin.name));
  for (const name of Object.keys(config.pluginSettings)) {
    if (!known.has(name)) {
      logger.warn(`[settings.${name}] in ${config.pluginsFilePath} matches no loaded plugin; loaded: ${[...known].join(', ')}`);
    }
  }
  try {
    await startPlugins(ordered, (p) => kernel.contextFor(p), (p) => settingsFor(config, p), timeouts, async () => {
      kernel.checkSelections();
      // The chosen implementations' lazy modules (ProvideOptions.load), before any plugin starts.
      await kernel.container.loadChosen();
    });
  } catch (err) {
    await kernel.container.dispose();
    throw err;
  }
  return kernel;
}

export { NuvomError };
