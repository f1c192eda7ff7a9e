/**
 * The service container, on awilix (strict). A plugin provides an implementation of a service token
 * under a name ("queue" / "sqlite"); the configuration chooses the name each token resolves to.
 * Implementations are singletons built on first resolve: one that is not chosen is never built, so it
 * opens no file and no socket. An implementation may also be loaded lazily (ProvideOptions.load): the
 * kernel awaits the chosen ones' loads at boot, so one not chosen is never even imported. Disposal runs
 * in reverse construction order (awilix's own dispose() is concurrent and unordered, so the order is
 * kept here).
 */
import { asFunction, asValue, createContainer, type AwilixContainer } from 'awilix/browser';
import type { StorageHealth } from './contracts.ts';
import { NuvomError, messageOf } from './errors.ts';

export interface Provider {
  token: string;
  name: string;
  plugin: string;
}

type Disposer = (instance: unknown) => unknown;

/** What a plugin may provide beside a service's factory. */
export interface ProvideOptions {
  /** Checks the implementation's storage without building it (`nuvom doctor`, read-only commands). */
  health?: StorageHealth;
  /**
   * Imports what the factory needs (`() => import('./store.ts')`), so that a process whose config does
   * not choose this implementation never loads its modules. The kernel awaits it at boot, after every
   * plugin registered and before any starts, for the implementation config chooses of each token;
   * `load(token, name)` runs it for any other (conformance tests). The factory runs only after it.
   */
  load?: () => Promise<unknown>;
}

export class ServiceContainer<S extends object> {
  private readonly awilix: AwilixContainer;
  private readonly providers = new Map<string, Map<string, Provider>>();
  private readonly selected = new Map<string, string>();
  private readonly factories = new Map<string, (services: S) => unknown>();
  private preferred: ReadonlySet<string> = new Set();
  /** How the configuration chooses a token's implementation, for the "chooses none" error (the kernel knows the settings). */
  private howToChoose: (token: string) => string = () => 'choose one in the configuration';
  private readonly healths = new Map<string, StorageHealth>();
  /** key -> the provider's load(), then its promise once started; absent when there is nothing to load. */
  private readonly loads = new Map<string, { load: () => Promise<unknown>; done?: Promise<unknown>; settled?: boolean }>();
  private readonly built: Array<{ key: string; instance: unknown; dispose?: Disposer; plugin: string }> = [];

  constructor() {
    this.awilix = createContainer({ strict: true });
  }

  value<K extends keyof S & string>(token: K, value: S[K]): void {
    this.awilix.register(token, asValue(value));
    this.registerProvider({ token, name: 'value', plugin: 'kernel' });
    this.selected.set(token, 'value');
  }

  provide<K extends keyof S & string>(
    plugin: string,
    token: K,
    name: string,
    factory: (services: S) => S[K],
    dispose?: (instance: S[K]) => unknown,
    options: ProvideOptions = {},
  ): void {
    if (!/^[a-z][\w.-]*$/i.test(name)) {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `implementation name "${name}" for service "${token}" must start with a letter and hold only letters, digits, "_", "-" or "."`, { plugin });
    }
    const existing = this.providers.get(token)?.get(name);
    if (existing && existing.plugin !== plugin) {
      throw new NuvomError('NUVOM_E_PLUGIN_DUPLICATE', `service "${token}" implementation "${name}" is provided by both "${existing.plugin}" and "${plugin}"; rename one`, { plugin });
    }
    const key = `${token}@${name}`;
    this.factories.set(key, factory as (services: S) => unknown);
    if (options.health) this.healths.set(key, options.health);
    if (options.load) this.loads.set(key, { load: options.load });
    this.awilix.register(key, asFunction(() => {
      let instance: S[K];
      try {
        this.assertLoaded(token, name);
        instance = factory(this.cradle);
      } catch (err) {
        throw new NuvomError('NUVOM_E_SERVICE', `could not build service "${token}" (implementation "${name}"): ${messageOf(err)}`, { plugin, cause: err });
      }
      this.built.push({ key, instance, dispose: dispose as Disposer | undefined, plugin });
      return instance;
    }).singleton());
    this.registerProvider({ token, name, plugin });
  }

  /** Plugins whose implementation is the default when a token has several and none is chosen (the preset's). */
  prefer(plugins: ReadonlySet<string>): void {
    this.preferred = plugins;
  }

  /** Says how the configuration chooses a token's implementation ("set NUVOM_QUEUE_BACKEND ..."). */
  explainChoice(howToChoose: (token: string) => string): void {
    this.howToChoose = howToChoose;
  }

  /** Chooses the implementation a token resolves to. Unknown names are reported at resolve time. */
  select(token: string, name: string): void {
    this.selected.set(token, name);
  }

  implementations(token: string): Provider[] {
    return [...(this.providers.get(token)?.values() ?? [])];
  }

  tokens(): string[] {
    return [...this.providers.keys()];
  }

  has(token: string): boolean {
    return this.providers.has(token);
  }

  selection(token: string): string | undefined {
    return this.selected.get(token) ?? this.defaultName(token);
  }

  resolve<K extends keyof S & string>(token: K): S[K] {
    const impls = this.providers.get(token);
    if (!impls || impls.size === 0) {
      throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `no plugin provides service "${token}"; load a plugin that does (see docs/plugins.md)`);
    }
    const name = this.selection(token);
    if (!name) {
      throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `service "${token}" has several implementations (${[...impls.keys()].join(', ')}) and the configuration chooses none; ${this.howToChoose(token)}`);
    }
    if (!impls.has(name)) {
      throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `service "${token}" has no implementation named "${name}"; available: ${[...impls.keys()].join(', ')}. Fix the setting or load the plugin that provides "${name}"`);
    }
    const key = name === 'value' && impls.get(name)!.plugin === 'kernel' ? token : `${token}@${name}`;
    try {
      return this.awilix.resolve<S[K]>(key);
    } catch (err) {
      const inner = (err as { cause?: unknown }).cause ?? err;
      if (inner instanceof NuvomError) throw inner;
      throw new NuvomError('NUVOM_E_SERVICE', `could not build service "${token}" (implementation "${name}"): ${messageOf(err)}`, { cause: err });
    }
  }

  /**
   * A fresh, uncached instance of one implementation, whether or not config chose it (conformance
   * tests need one per case). The caller owns it and must close it.
   */
  construct<K extends keyof S & string>(token: K, name: string): S[K] {
    const factory = this.factories.get(`${token}@${name}`);
    if (!factory) throw new NuvomError('NUVOM_E_SERVICE_UNKNOWN', `service "${token}" has no implementation named "${name}"`);
    this.assertLoaded(token, name);
    return factory(this.cradle) as S[K];
  }

  /** Runs the provider's `load` (once; later calls share it). Nothing to do for one provided without. */
  async load(token: string, name: string): Promise<void> {
    const l = this.loads.get(`${token}@${name}`);
    if (!l) return;
    l.done ??= l.load().then(() => { l.settled = true; }, (err: unknown) => {
      l.done = undefined;
      throw new NuvomError('NUVOM_E_SERVICE', `could not load service "${token}" (implementation "${name}"): ${messageOf(err)}`, { plugin: this.providers.get(token)?.get(name)?.plugin, cause: err });
    });
    await l.done;
  }

  /** Loads the implementation each token resolves to (the kernel calls it at boot). */
  async loadChosen(): Promise<void> {
    for (const token of this.providers.keys()) {
      const name = this.selection(token);
      if (name !== undefined && this.providers.get(token)!.has(name)) await this.load(token, name);
    }
  }

  /** The health checker the chosen implementation of `token` was provided with; builds nothing. */
  healthOf(token: string): StorageHealth | undefined {
    const name = this.selection(token);
    return name === undefined ? undefined : this.healths.get(`${token}@${name}`);
  }

  /** The lazily resolving view that factories receive. */
  get cradle(): S {
    return new Proxy({} as S, {
      get: (_t, prop) => (typeof prop === 'string' ? this.resolve(prop as keyof S & string) : undefined),
    });
  }

  /** Disposes what was built, newest first. Errors are collected, not thrown one by one. */
  async dispose(): Promise<Array<{ plugin: string; key: string; error: unknown }>> {
    const errors: Array<{ plugin: string; key: string; error: unknown }> = [];
    while (this.built.length) {
      const b = this.built.pop()!;
      if (!b.dispose) continue;
      try {
        await b.dispose(b.instance);
      } catch (error) {
        errors.push({ plugin: b.plugin, key: b.key, error });
      }
    }
    return errors;
  }

  private assertLoaded(token: string, name: string): void {
    const l = this.loads.get(`${token}@${name}`);
    if (l && !l.settled) {
      throw new NuvomError('NUVOM_E_SERVICE', `service "${token}" (implementation "${name}") is not loaded yet: the kernel loads the chosen implementations at boot; await container.load("${token}", "${name}") before building another`);
    }
  }

  private registerProvider(p: Provider): void {
    let m = this.providers.get(p.token);
    if (!m) this.providers.set(p.token, (m = new Map()));
    m.set(p.name, p);
  }

  private defaultName(token: string): string | undefined {
    const impls = this.providers.get(token);
    if (!impls) return undefined;
    if (impls.size === 1) return [...impls.keys()][0];
    const fromPreferred = [...impls.values()].filter((p) => this.preferred.has(p.plugin));
    return fromPreferred.length === 1 ? fromPreferred[0].name : undefined;
  }
}
