/**
 * The plugin protocol: the shape every plugin has, built-in or third-party, and the context the host
 * hands it. Documented for authors in docs/plugins.md.
 */
import type { Clock, JobStore, Logger, Queue, ResultStore, ScheduleStore, Serializer, StorageHealth } from './contracts.ts';
import type { ProvideOptions } from './container.ts';
import type { NuvomConfig } from './config/schema.ts';
import type { HookBus, HookKind, KernelHooks } from './hooks.ts';
import type { Catalogue } from './plugin-host.ts';

export const API_VERSION = 1 as const;

/**
 * The services a plugin can provide or resolve. Plugins that publish a service of their own extend
 * this interface by declaration merging (`declare module 'nuvom/plugin' { interface Services { ... } }`).
 */
export interface Services {
  config: NuvomConfig;
  logger: Logger;
  clock: Clock;
  bus: HookBus;
  serializer: Serializer;
  queue: Queue;
  resultStore: ResultStore;
  /** Provided by a backend plugin that holds queue and records together; see JobStore. */
  jobStore: JobStore;
  scheduleStore: ScheduleStore;
  kernelInfo: KernelInfo;
  [token: string]: unknown;
}

export interface PluginInfo {
  name: string;
  version?: string;
  source: string;
  state: string;
  provides: string[];
  dependsOn: string[];
  needs: string[];
}

/** What the kernel tells about itself (for `nuvom plugin status`). */
export interface KernelInfo {
  plugins(): PluginInfo[];
  /** Error codes the loaded plugins declared, code -> { meaning, plugin }. */
  errorCodes(): Record<string, { meaning: string; plugin: string }>;
  /** The plugin objects that came from the preset (and `builtins`), for building an isolated kernel. */
  presetPlugins(): NuvomPlugin[];
  /** The catalogue the kernel booted with ("nuvom/plugins/prometheus" -> loader). */
  catalogue(): Catalogue;
  /** token -> { chosen implementation, available ones } */
  services(): Record<string, { selected: string | undefined; available: string[] }>;
}

/**
 * One setting a plugin declares. The loader reads it from flags, the environment, `.env`, the config
 * file and `[settings.<plugin>]` (in that order of precedence), validates it with `parse`, and shows it
 * in `nuvom config` with its source.
 */
export interface SettingSpec<T = unknown> {
  /** The NUVOM_* environment variable (also read from `.env`); a setting may have none. */
  env?: string;
  /** One line for `nuvom config` and the docs. */
  doc: string;
  /** The value when no source sets it, or a function of the settings resolved so far (see `derived`). */
  default: T | ((settings: Readonly<Record<string, unknown>>) => T);
  /** Returns the value, or throws a message saying what is expected. Strings come from env and flags. */
  parse: (raw: unknown) => T;
  /** The default is computed from other settings (resolved after the others; shown as "derived"). */
  derived?: boolean;
}

export type SettingSpecs = Record<string, SettingSpec<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The typed, validated values of a plugin's declared settings. */
export type SettingsOf<S extends SettingSpecs> = [keyof S] extends [never]
  ? Readonly<Record<string, unknown>>
  : { readonly [K in keyof S]: S[K] extends SettingSpec<infer T> ? T : never };

export interface PluginContext<S = Readonly<Record<string, unknown>>> {
  /** This plugin's name. */
  readonly plugin: string;
  readonly config: NuvomConfig;
  /**
   * This plugin's settings: its declared settings, merged and validated (typed from the declaration);
   * a plugin that declares none gets its `[settings.<plugin>]` table as written.
   */
  readonly settings: S;
  readonly logger: Logger;
  readonly hooks: Readonly<KernelHooks>;
  readonly bus: HookBus;
  /**
   * Provides `token` under `name`; the factory runs on first resolve and only if config chooses `name`.
   * `options.health` checks the implementation's storage without building it (StorageHealth);
   * `options.load` imports the factory's modules, awaited at boot only when config chooses `name`.
   */
  provide<K extends keyof Services & string>(
    token: K,
    name: string,
    factory: (services: Services) => Services[K],
    dispose?: (instance: Services[K]) => unknown,
    options?: ProvideOptions,
  ): void;
  /** The health checker the chosen implementation of `token` was provided with, if any; builds nothing. */
  healthOf(token: string): StorageHealth | undefined;
  /** The chosen implementation of a service (built on first use). */
  resolve<K extends keyof Services & string>(token: K): Services[K];
  /** Implementation names provided for a token. */
  implementations(token: string): string[];
}

export interface NuvomPlugin<S extends SettingSpecs = SettingSpecs> {
  /** Unique; `[settings.<name>]` in .nuvom_plugins.toml reaches this plugin's start(). */
  name: string;
  apiVersion: typeof API_VERSION;
  version?: string;
  description?: string;
  /** Capabilities, as "service:name" (e.g. "queue:sqlite") or free tags ("cli", "monitoring"). */
  provides?: string[];
  /** Plugins that must register and start before this one. */
  dependsOn?: string[];
  /**
   * Service tokens this plugin resolves ("queue", "registry"). Boot fails, naming the plugin and the
   * service, when no loaded plugin provides one. A token ending in "?" ("scheduler?") is optional:
   * only some of its commands resolve it, so boot goes on without it, and resolving it then fails
   * naming the plugin and the service.
   */
  needs?: string[];
  /**
   * The settings this plugin owns (docs/plugins.md, "Settings"). Their names share one namespace with
   * the kernel's and every other plugin's (the config file and `nuvom config` are flat).
   */
  settings?: S;
  /**
   * Defaults this plugin suggests for settings it does not own, typically a service choice
   * (`{ queueBackend: 'sqlite' }`). A project's plugin (listed or programmatic) beats a built-in, the
   * first listed among them wins; a preset's settings and any source beat it.
   */
  defaults?: Readonly<Record<string, unknown>>;
  /**
   * Hooks this plugin declares (docs/plugins.md, "Declaring hooks and error codes"): created by the
   * kernel before any plugin registers, tapped through `ctx.hooks.<name>` like the kernel's, fired
   * with `ctx.bus.emit(name, payload)` (observers) or `ctx.hooks.<name>.promise(value)` (pipelines).
   * Type them by augmenting ObserverEvents / PipelineValues.
   */
  hooks?: Readonly<Record<string, HookKind>>;
  /**
   * Error codes this plugin throws (`new NuvomError(code, ...)`), with what each means; type them by
   * augmenting PluginErrorCodes. A code the kernel or another loaded plugin declares is refused.
   */
  errors?: Readonly<Record<string, string>>;
  register?(ctx: PluginContext<SettingsOf<S>>): void | Promise<void>;
  /** `settings` is ctx.settings (declared settings), or the `[settings.<plugin>]` table as written. */
  start?(settings: SettingsOf<S>, ctx: PluginContext<SettingsOf<S>>): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/** Identity helper that gives plugin authors type checking (ctx.settings is typed from `settings`). */
export function definePlugin<S extends SettingSpecs = Record<never, never>>(plugin: NuvomPlugin<S>): NuvomPlugin<S> {
  return plugin;
}
