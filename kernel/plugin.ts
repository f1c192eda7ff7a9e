/**
 * The plugin protocol: the shape every plugin has, built-in or third-party, and the context the host
 * hands it. Documented for authors in docs/plugins.md.
 */
import type { Clock, JobStore, Logger, Queue, ResultStore, ScheduleStore, Serializer } from './contracts.ts';
import type { NuvomConfig } from './config/schema.ts';
import type { HookBus, KernelHooks } from './hooks.ts';

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
}

/** What the kernel tells about itself (for `nuvom plugin status`). */
export interface KernelInfo {
  plugins(): PluginInfo[];
  /** token -> { chosen implementation, available ones } */
  services(): Record<string, { selected: string | undefined; available: string[] }>;
}

export interface PluginContext {
  /** This plugin's name. */
  readonly plugin: string;
  readonly config: NuvomConfig;
  readonly logger: Logger;
  readonly hooks: Readonly<KernelHooks>;
  readonly bus: HookBus;
  /** Provides `token` under `name`; the factory runs on first resolve and only if config chooses `name`. */
  provide<K extends keyof Services & string>(
    token: K,
    name: string,
    factory: (services: Services) => Services[K],
    dispose?: (instance: Services[K]) => unknown,
  ): void;
  /** The chosen implementation of a service (built on first use). */
  resolve<K extends keyof Services & string>(token: K): Services[K];
  /** Implementation names provided for a token. */
  implementations(token: string): string[];
}

export interface NuvomPlugin {
  /** Unique; `[settings.<name>]` in .nuvom_plugins.toml reaches this plugin's start(). */
  name: string;
  apiVersion: typeof API_VERSION;
  version?: string;
  description?: string;
  /** Capabilities, as "service:name" (e.g. "queue:sqlite") or free tags ("cli", "monitoring"). */
  provides?: string[];
  /** Plugins that must register and start before this one. */
  dependsOn?: string[];
  register?(ctx: PluginContext): void | Promise<void>;
  start?(settings: Readonly<Record<string, unknown>>, ctx: PluginContext): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/** Identity helper that gives plugin authors type checking. */
export function definePlugin<P extends NuvomPlugin>(plugin: P): P {
  return plugin;
}
