/**
 * The configuration's keys, defaults, environment names and validators. One table drives loading,
 * validation, `nuvom config` and docs/configuration.md.
 * Must never: read files or the environment (load.ts does that).
 */
import { availableParallelism } from 'node:os';
import type { LogLevel, TimeoutPolicy } from '../contracts.ts';

export interface NuvomSettings {
  queueBackend: string;
  resultBackend: string;
  schedulerBackend: string;
  serializationBackend: string;
  maxWorkers: number;
  concurrency: number;
  batchSize: number;
  jobTimeoutSecs: number;
  timeoutPolicy: TimeoutPolicy;
  visibilityTimeoutSecs: number;
  memoryLimitMb: number;
  pluginTimeoutSecs: number;
  manifestPath: string;
  sqlitePath: string;
  sqliteQueuePath: string;
  sqliteResultPath: string;
  fileQueueDir: string;
  fileResultDir: string;
  logLevel: LogLevel;
  environment: string;
  pluginsFile: string;
}

export type ConfigKey = keyof NuvomSettings;
export type ConfigSource = 'default' | 'file' | '.env' | 'env' | 'flag' | 'derived';

export interface ConfigValue<T = unknown> {
  value: T;
  source: ConfigSource;
  /** File path for 'file' and '.env', variable name for 'env', flag for 'flag'. */
  origin?: string;
}

/** TOML plugin listing: capability -> module specs ("./x.ts:Export", "pkg"). */
export type PluginSpecs = Record<string, string[]>;

export interface NuvomConfig extends Readonly<NuvomSettings> {
  /** The project root: settings, `.env` and relative paths are read from here. */
  readonly cwd: string;
  /** Why `cwd` is the root ("nearest package.json above ...", "given (--cwd ...)"). */
  readonly rootReason: string;
  /** Where each setting came from. */
  readonly sources: Readonly<Record<ConfigKey, ConfigValue>>;
  readonly plugins: Readonly<PluginSpecs>;
  /** `[settings.<plugin>]` tables from .nuvom_plugins.toml. */
  readonly pluginSettings: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The .nuvom_plugins.toml path when one was read. */
  readonly pluginsFilePath: string | null;
}

type Parse<T> = (raw: unknown) => T;

export interface KeySpec<T> {
  env: string;
  doc: string;
  default: (s: Partial<NuvomSettings>) => T;
  parse: Parse<T>;
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const POLICIES: readonly TimeoutPolicy[] = ['retry', 'fail', 'ignore'];

function str(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('expected a non-empty string');
  return raw.trim();
}
function name(raw: unknown): string {
  const s = str(raw);
  if (!/^[a-z][\w.-]*$/i.test(s)) throw new Error('expected a backend name such as "sqlite" (letters, digits, "_", "-", ".")');
  return s;
}
function num(min: number, integer: boolean): Parse<number> {
  return (raw) => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(raw)}`);
    if (integer && !Number.isInteger(n)) throw new Error(`expected a whole number, got ${n}`);
    if (n < min) throw new Error(`expected a number >= ${min}, got ${n}`);
    return n;
  };
}
function oneOf<T extends string>(values: readonly T[]): Parse<T> {
  return (raw) => {
    const s = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
    if (!values.includes(s as T)) throw new Error(`expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
    return s as T;
  };
}

export const CONFIG_KEYS: { [K in ConfigKey]: KeySpec<NuvomSettings[K]> } = {
  queueBackend: { env: 'NUVOM_QUEUE_BACKEND', doc: 'queue implementation: sqlite, file, memory or a plugin-provided name', default: () => 'sqlite', parse: name },
  resultBackend: { env: 'NUVOM_RESULT_BACKEND', doc: 'result store implementation', default: () => 'sqlite', parse: name },
  schedulerBackend: { env: 'NUVOM_SCHEDULER_BACKEND', doc: 'schedule store implementation', default: () => 'sqlite', parse: name },
  serializationBackend: { env: 'NUVOM_SERIALIZATION_BACKEND', doc: 'serializer for arguments and results: msgpack or json', default: () => 'msgpack', parse: name },
  maxWorkers: { env: 'NUVOM_MAX_WORKERS', doc: 'worker threads in the pool (0: run jobs in-process, on the worker\'s main thread)', default: () => availableParallelism(), parse: num(0, true) },
  concurrency: { env: 'NUVOM_CONCURRENCY', doc: 'jobs run at once in one thread (async tasks)', default: () => 1, parse: num(1, true) },
  batchSize: { env: 'NUVOM_BATCH_SIZE', doc: 'jobs claimed per queue round trip', default: () => 10, parse: num(1, true) },
  jobTimeoutSecs: { env: 'NUVOM_JOB_TIMEOUT_SECS', doc: 'default task timeout in seconds', default: () => 30, parse: num(0.001, false) },
  timeoutPolicy: { env: 'NUVOM_TIMEOUT_POLICY', doc: 'default timeout policy: retry, fail or ignore', default: () => 'retry', parse: oneOf(POLICIES) },
  visibilityTimeoutSecs: { env: 'NUVOM_VISIBILITY_TIMEOUT_SECS', doc: 'lease length: a claimed job not renewed for this long is delivered again', default: () => 30, parse: num(0.05, false) },
  memoryLimitMb: { env: 'NUVOM_MEMORY_LIMIT_MB', doc: "heap limit per worker thread in MB (0: Node's default); a task that exceeds it fails and its thread is replaced", default: () => 0, parse: num(0, true) },
  pluginTimeoutSecs: { env: 'NUVOM_PLUGIN_TIMEOUT_SECS', doc: "time limit for each plugin's start() and stop()", default: () => 10, parse: num(0.001, false) },
  manifestPath: { env: 'NUVOM_MANIFEST_PATH', doc: 'task manifest written by discovery', default: () => '.nuvom/manifest.json', parse: str },
  sqlitePath: { env: 'NUVOM_SQLITE_PATH', doc: 'SQLite file for queue, results and schedules', default: () => '.nuvom/nuvom.db', parse: str },
  sqliteQueuePath: { env: 'NUVOM_SQLITE_QUEUE_PATH', doc: 'SQLite file for the queue (defaults to NUVOM_SQLITE_PATH)', default: (s) => s.sqlitePath ?? '.nuvom/nuvom.db', parse: str },
  sqliteResultPath: { env: 'NUVOM_SQLITE_RESULT_PATH', doc: 'SQLite file for results and schedules (defaults to NUVOM_SQLITE_PATH)', default: (s) => s.sqlitePath ?? '.nuvom/nuvom.db', parse: str },
  fileQueueDir: { env: 'NUVOM_FILE_QUEUE_DIR', doc: 'directory of the file queue', default: () => '.nuvom/queue', parse: str },
  fileResultDir: { env: 'NUVOM_FILE_RESULT_DIR', doc: 'directory of the file result store', default: () => '.nuvom/results', parse: str },
  logLevel: { env: 'NUVOM_LOG_LEVEL', doc: 'debug, info, warn, error or silent', default: () => 'info', parse: oneOf(LOG_LEVELS) },
  environment: { env: 'NUVOM_ENVIRONMENT', doc: 'free-form environment name (dev, prod, test)', default: () => 'dev', parse: str },
  pluginsFile: { env: 'NUVOM_PLUGINS_FILE', doc: 'plugin listing file', default: () => '.nuvom_plugins.toml', parse: str },
};

/** Keys whose defaults derive from other keys: resolved after the others. */
export const DERIVED_KEYS: readonly ConfigKey[] = ['sqliteQueuePath', 'sqliteResultPath'];
