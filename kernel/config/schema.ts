/**
 * The kernel's own settings (log level, plugins file, plugin timeout, environment, the service
 * choices) and the types of the resolved configuration. Every other setting is declared by the plugin
 * that owns it (NuvomPlugin.settings) and merged by settings.ts; plugins add their keys to the
 * `NuvomSettings` type by declaration merging.
 * Must never: read files or the environment (load.ts does that); name a plugin's setting.
 */
import type { LogLevel } from '../contracts.ts';
import type { SettingSpec } from '../plugin.ts';

/**
 * The resolved settings. The kernel declares its own keys here; a plugin that wants its keys typed on
 * `config` merges them in (`declare module 'nuvom/plugin' { interface NuvomSettings { myKey: string } }`).
 */
export interface NuvomSettings extends KernelSettings {}

/** The kernel's own settings. */
export interface KernelSettings {
  queueBackend: string;
  resultBackend: string;
  schedulerBackend: string;
  serializationBackend: string;
  pluginTimeoutSecs: number;
  logLevel: LogLevel;
  environment: string;
  pluginsFile: string;
  /** Service token -> implementation name, for every token without a setting of its own (NUVOM_SERVICES). */
  services: Readonly<Record<string, string>>;
}

export type ConfigKey = keyof NuvomSettings & string;
export type ConfigSource = 'default' | 'file' | '.env' | 'env' | 'flag' | 'derived' | 'plugins-file';

export interface ConfigValue<T = unknown> {
  value: T;
  source: ConfigSource;
  /** File path for 'file', '.env' and 'plugins-file', variable name for 'env', flag for 'flag'. */
  origin?: string;
  /** The plugin that owns the setting ("kernel" for the kernel's own). */
  owner?: string;
}

/** TOML plugin listing: capability -> module specs ("./x.ts:Export", "pkg"). */
export type PluginSpecs = Record<string, string[]>;

/** The raw sources a configuration was resolved from, kept so that plugins' settings can be resolved at boot. */
export interface ConfigInputs {
  file: { config: Readonly<Record<string, unknown>>; filepath: string } | null;
  dotenv: Readonly<Record<string, string>>;
  dotenvPath: string;
  env: Readonly<Record<string, string | undefined>>;
  flags: Readonly<Record<string, unknown>>;
}

export interface NuvomConfig extends Readonly<NuvomSettings> {
  /** Plugins' settings (typed where a plugin merged them into NuvomSettings). */
  readonly [key: string]: unknown;
  /** The project root: settings, `.env` and relative paths are read from here. */
  readonly cwd: string;
  /** Why `cwd` is the root ("nearest package.json above ...", "given (--cwd ...)"). */
  readonly rootReason: string;
  /** Where each setting came from (the kernel's and every loaded plugin's). */
  readonly sources: Readonly<Record<string, ConfigValue>>;
  readonly plugins: Readonly<PluginSpecs>;
  /** `[settings.<plugin>]` tables from .nuvom_plugins.toml, as written. */
  readonly pluginSettings: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The .nuvom_plugins.toml path when one was read. */
  readonly pluginsFilePath: string | null;
  /** `[preset] disable = [...]` in .nuvom_plugins.toml: preset plugins to leave out. */
  readonly presetDisable: readonly string[];
  /** The raw sources (flags, env, .env, config file), for resolving settings of plugins loaded later. */
  readonly inputs: Readonly<ConfigInputs>;
  /** Names of the plugins whose settings are resolved in this configuration. */
  readonly settingsOf: readonly string[];
  /**
   * Set by `nuvom plugin test` on each isolated kernel it boots: a short id (lower-case letters and
   * digits). Files already live under `cwd`, a fresh temporary folder; a plugin whose storage is on a
   * server (a schema, a key prefix) keeps that kernel's data apart under this id and removes it when
   * its services are disposed, so a test never touches the project's own data.
   */
  readonly isolation?: string;
}

type Parse<T> = (raw: unknown) => T;

export type KeySpec<T> = SettingSpec<T>;

/** Parsers for common setting shapes; plugin authors use them in their `settings` declarations. */
export const settingParsers = {
  /** A non-empty string, trimmed. */
  string(raw: unknown): string {
    if (typeof raw !== 'string' || raw.trim() === '') throw new Error('expected a non-empty string');
    return raw.trim();
  },
  /** An implementation name such as a backend's. */
  name(raw: unknown): string {
    const s = settingParsers.string(raw);
    if (!/^[a-z][\w.-]*$/i.test(s)) throw new Error('expected a backend name such as "memory" (letters, digits, "_", "-", ".")');
    return s;
  },
  /** A number >= min (a whole number when `integer`); strings are parsed. */
  number(min: number, integer: boolean): Parse<number> {
    return (raw) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(raw)}`);
      if (integer && !Number.isInteger(n)) throw new Error(`expected a whole number, got ${n}`);
      if (n < min) throw new Error(`expected a number >= ${min}, got ${n}`);
      return n;
    };
  },
  /** One of a fixed list of words (case-insensitive). */
  oneOf<T extends string>(values: readonly T[]): Parse<T> {
    return (raw) => {
      const s = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
      if (!values.includes(s as T)) throw new Error(`expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
      return s as T;
    };
  },
};

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const { string: str, name, number: num, oneOf } = settingParsers;

/**
 * The kernel's own keys. A service choice has no kernel default: a plugin suggests one
 * (NuvomPlugin.defaults, e.g. the preset's storage plugin), else the only implementation loaded is used.
 */
export const CONFIG_KEYS: { [K in keyof KernelSettings]: KeySpec<KernelSettings[K]> } = {
  queueBackend: { env: 'NUVOM_QUEUE_BACKEND', doc: 'queue implementation: a name a loaded plugin provides it under (nuvom plugin status lists them)', default: '', parse: name },
  resultBackend: { env: 'NUVOM_RESULT_BACKEND', doc: 'result store implementation', default: '', parse: name },
  schedulerBackend: { env: 'NUVOM_SCHEDULER_BACKEND', doc: 'schedule store implementation', default: '', parse: name },
  serializationBackend: { env: 'NUVOM_SERIALIZATION_BACKEND', doc: 'serializer for arguments and results: msgpack or json', default: '', parse: name },
  pluginTimeoutSecs: { env: 'NUVOM_PLUGIN_TIMEOUT_SECS', doc: "time limit for each plugin's start() and stop()", default: 10, parse: num(0.001, false) },
  logLevel: { env: 'NUVOM_LOG_LEVEL', doc: 'debug, info, warn, error or silent', default: 'info', parse: oneOf(LOG_LEVELS) },
  environment: { env: 'NUVOM_ENVIRONMENT', doc: 'free-form environment name (dev, prod, test)', default: 'dev', parse: str },
  pluginsFile: { env: 'NUVOM_PLUGINS_FILE', doc: 'plugin listing file', default: '.nuvom_plugins.toml', parse: str },
  services: {
    env: 'NUVOM_SERVICES',
    doc: 'implementation of any other service a plugin provides, as token=name pairs ("scheduler=acme,workerPool=mine")',
    default: {},
    parse: parseServices,
  },
};

/** "token=name,token=name" (env, flag) or { token: "name" } (files) -> a frozen map. */
function parseServices(raw: unknown): Readonly<Record<string, string>> {
  const pairs: Array<[string, unknown]> = typeof raw === 'string'
    ? raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
      const i = s.indexOf('=');
      if (i <= 0) throw new Error(`expected token=name pairs separated by commas, such as "scheduler=acme", got ${JSON.stringify(s)}`);
      return [s.slice(0, i).trim(), s.slice(i + 1).trim()];
    })
    : typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? Object.entries(raw) : [];
  if (typeof raw !== 'string' && pairs.length === 0 && (typeof raw !== 'object' || raw === null || Array.isArray(raw))) {
    throw new Error('expected a table of service token = implementation name, such as { scheduler = "acme" }');
  }
  const out: Record<string, string> = {};
  for (const [token, n] of pairs) {
    if (!/^[a-z][\w]*$/i.test(token)) throw new Error(`"${token}" is not a service token (letters and digits, such as "scheduler")`);
    try { out[token] = name(n); } catch (err) { throw new Error(`${token}: ${(err as Error).message}`); }
  }
  return Object.freeze(out);
}
