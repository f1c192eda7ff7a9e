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
import { NuvomError } from './errors.ts';
import { HookBus } from './hooks.ts';
import { createLogger } from './logger.ts';
import type { NuvomPlugin, PluginContext, Services } from './plugin.ts';
import {
  orderPlugins, startPlugins, stopPlugins, type Catalogue, type HostTimeouts, type LoadedPlugin,
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
  /** Built-in plugins, applied before those listed in .nuvom_plugins.toml. */
  builtins?: NuvomPlugin[];
  /** Extra plugin objects (programmatic use, tests). */
  plugins?: NuvomPlugin[];
  /** Specs such as "nuvom/plugins/prometheus" that map to bundled plugins. */
  catalogue?: Catalogue;
  logger?: Logger;
  clock?: Clock;
  timeouts?: Partial<HostTimeouts>;
}

export class Kernel {
  readonly bus: HookBus;
  readonly container = new ServiceContainer<Services>();
  private stopped = false;

  constructor(
    readonly config: NuvomConfig,
    readonly logger: Logger,
    readonly plugins: LoadedPlugin[],
    private readonly timeouts: HostTimeouts,
    clock: Clock,
  ) {
    this.bus = new HookBus(logger);
    this.container.value('config', config);
    this.container.value('logger', logger);
    this.container.value('clock', clock);
    this.container.value('bus', this.bus);
    this.container.value('kernelInfo', {
      plugins: () => this.plugins.map((l) => ({
        name: l.plugin.name, version: l.plugin.version, source: l.source, state: l.state,
        provides: l.plugin.provides ?? [], dependsOn: l.plugin.dependsOn ?? [],
      })),
      services: () => Object.fromEntries(this.container.tokens().map((t) => [t, {
        selected: this.container.selection(t), available: this.container.implementations(t).map((p) => p.name),
      }])),
    });
    // An empty choice (no source set it, no plugin suggested one): the only implementation loaded, if one.
    for (const [token, key] of Object.entries(SERVICE_SELECTIONS)) if (config[key]) this.container.select(token, String(config[key]));
    // A combined job store is chosen by choosing one implementation for both queue and results.
    this.container.select('jobStore', config.queueBackend && config.queueBackend === config.resultBackend ? String(config.queueBackend) : '-');
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

  contextFor(plugin: NuvomPlugin): PluginContext {
    const logger = this.logger.child({ plugin: plugin.name });
    return {
      plugin: plugin.name,
      config: this.config,
      settings: settingsFor(this.config, plugin),
      logger,
      hooks: this.bus.hooks,
      bus: this.bus,
      provide: (token, name, factory, dispose) => this.container.provide(plugin.name, token, name, factory, dispose),
      resolve: (token) => this.container.resolve(token),
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
  const loaded: LoadedPlugin[] = [];
  for (const p of opts.builtins ?? []) loaded.push({ plugin: p, source: 'builtin', state: 'loaded' });
  for (const p of opts.plugins ?? []) loaded.push({ plugin: p, source: 'programmatic', state: 'loaded' });
  for (const { plugin, spec, capability } of await importListedPlugins(opts.config, opts.catalogue)) {
    loaded.push({ plugin, source: spec, capability, state: 'loaded' });
  }
  const ordered = orderPlugins(loaded);
  // Every plugin is known now: resolve their settings (in load order, which decides suggested defaults).
  const config = resolveSettings(opts.config, loaded.map((l) => l.plugin), true);
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const limitMs = config.pluginTimeoutSecs * 1000;
  const timeouts: HostTimeouts = { startMs: limitMs, stopMs: limitMs, ...opts.timeouts };
  const kernel = new Kernel(config, logger, ordered, timeouts, opts.clock ?? { now: () => Date.now() });
  const known = new Set(ordered.map((l) => l.plugin.name));
  for (const name of Object.keys(config.pluginSettings)) {
    if (!known.has(name)) {
      logger.warn(`[settings.${name}] in ${config.pluginsFilePath} matches no loaded plugin; loaded: ${[...known].join(', ')}`);
    }
  }
  try {
    await startPlugins(ordered, (p) => kernel.contextFor(p), (p) => settingsFor(config, p), timeouts, () => kernel.checkSelections());
  } catch (err) {
    await kernel.container.dispose();
    throw err;
  }
  return kernel;
}

export { NuvomError };
