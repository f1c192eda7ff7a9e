/**
 * The one error class of nuvom. Codes are API: never rename one once published; add new ones and
 * list every code in docs/errors.md with what it means and what to do.
 */

export const ERROR_CODES = {
  NUVOM_E_CONFIG: 'a configuration value is invalid',
  NUVOM_E_CONFIG_FILE: 'a configuration file could not be read or parsed',
  NUVOM_E_PLUGIN_LOAD: 'a plugin module could not be imported',
  NUVOM_E_PLUGIN_INVALID: 'a plugin object has the wrong shape or apiVersion',
  NUVOM_E_PLUGIN_DUPLICATE: 'two plugins share one name',
  NUVOM_E_PLUGIN_DEPENDENCY: 'a plugin depends on a plugin that is not loaded',
  NUVOM_E_PLUGIN_CYCLE: 'plugin dependencies form a cycle',
  NUVOM_E_PLUGIN_START: 'a plugin failed (or timed out) in register or start',
  NUVOM_E_PLUGIN_STOP: 'a plugin failed (or timed out) in stop',
  NUVOM_E_HOOK: 'a hook tap threw',
  NUVOM_E_HOOK_UNKNOWN: 'a hook name that no one declared',
  NUVOM_E_SERVICE_UNKNOWN: 'a service token or implementation name that no plugin provides',
  NUVOM_E_SERVICE: 'a service could not be constructed',
  NUVOM_E_TASK_INVALID: 'task() was given bad options or no name',
  NUVOM_E_TASK_DUPLICATE: 'two tasks share one name',
  NUVOM_E_TASK_UNKNOWN: 'no task of that name is registered or in the manifest',
  NUVOM_E_TASK_LOAD: 'a task module could not be loaded where the job runs',
  NUVOM_E_UNSERIALIZABLE: 'an argument or result cannot be serialized',
  NUVOM_E_DESERIALIZE: 'stored bytes could not be decoded',
  NUVOM_E_ENQUEUE_REFUSED: 'an enqueue hook refused the job',
  NUVOM_E_DUPLICATE_JOB: 'a job id is already in the queue',
  NUVOM_E_JOB_NOT_FOUND: 'no job has that id',
  NUVOM_E_JOB_AMBIGUOUS: 'a job id prefix matches several jobs',
  NUVOM_E_JOB_STATE: 'the job is in a state that does not allow the operation',
  NUVOM_E_DASHBOARD_FORBIDDEN: 'the dashboard refused a request (credentials, CSRF token, origin or read-only mode)',
  NUVOM_E_JOB_FAILED: 'the awaited job failed (the task threw)',
  NUVOM_E_JOB_CANCELLED: 'the awaited job was cancelled',
  NUVOM_E_TIMEOUT: 'a job ran past its timeout',
  NUVOM_E_RESULT_TIMEOUT: 'waiting for a job result took longer than asked',
  NUVOM_E_WORKER_CRASHED: 'the worker running the job died under it',
  NUVOM_E_STORAGE: 'a storage backend failed',
  NUVOM_E_STORAGE_CORRUPT: 'stored data is corrupt and was quarantined',
  NUVOM_E_UNSUPPORTED: 'the configured backend does not support the operation',
  NUVOM_E_SCHEDULE_INVALID: 'a schedule trigger is invalid',
  NUVOM_E_SCHEDULE_NOT_FOUND: 'no schedule has that id',
  NUVOM_E_MANIFEST: 'the task manifest is missing, stale or unreadable',
  NUVOM_E_USAGE: 'a command was used wrongly',
  NUVOM_E_PORT_IN_USE: 'a network port is already taken',
  NUVOM_E_NO_DATABASE: 'a read-only command found no database to read',
  NUVOM_E_STORAGE_UNREACHABLE: 'a storage server could not be reached, or refused the login or database',
  NUVOM_E_STORAGE_PERMISSION: 'a storage server refused an operation for lack of a privilege',
  NUVOM_E_STORAGE_SCHEMA: 'the storage schema is newer than this nuvom, or not migrated yet',
  NUVOM_E_CLIENT_CLOSED: 'a closed client was used, or task().delay() was called after every client was closed',
} as const;

/**
 * Error codes that plugins declare (`errors: { NUVOM_E_ACME: 'what it means' }` in the definition),
 * typed by augmenting this interface: `declare module 'nuvom/plugin' { interface PluginErrorCodes {
 * NUVOM_E_ACME: true } }`. The kernel's codes and every loaded plugin's share one namespace.
 */
export interface PluginErrorCodes {} // eslint-disable-line @typescript-eslint/no-empty-interface

export type ErrorCode = keyof typeof ERROR_CODES | (keyof PluginErrorCodes & string);

/** What is wrong with a code a plugin declares (its shape, or a clash with the kernel's), or null. */
export function errorCodeProblem(code: string, meaning: unknown): string | null {
  if (!/^NUVOM_E_[A-Z][A-Z0-9_]*$/.test(code)) return `error code "${code}" must look like NUVOM_E_ACME_SOMETHING (upper case, digits and "_" after NUVOM_E_)`;
  if (Object.hasOwn(ERROR_CODES, code)) return `error code "${code}" is the kernel's; declare a code of your own`;
  if (typeof meaning !== 'string' || meaning === '') return `error code "${code}" needs a one-line meaning`;
  return null;
}

export interface NuvomErrorOptions {
  /** The plugin whose code failed, when known. */
  plugin?: string;
  /** The hook or lifecycle step that failed, when known. */
  hook?: string;
  cause?: unknown;
  /** Extra machine-readable facts (paths, names, positions). */
  details?: Record<string, unknown>;
}

export class NuvomError extends Error {
  readonly code: ErrorCode;
  readonly plugin: string | undefined;
  readonly hook: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: NuvomErrorOptions = {}) {
    const where = [opts.plugin && `plugin "${opts.plugin}"`, opts.hook && `hook "${opts.hook}"`]
      .filter(Boolean)
      .join(', ');
    super(where ? `[${where}] ${message}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NuvomError';
    this.code = code;
    this.plugin = opts.plugin;
    this.hook = opts.hook;
    this.details = opts.details ?? {};
  }
}

export function isNuvomError(err: unknown, code?: ErrorCode): err is NuvomError {
  return err instanceof Error && (err as NuvomError).name === 'NuvomError' && typeof (err as NuvomError).code === 'string'
    && (code === undefined || (err as NuvomError).code === code);
}

/** The message of anything thrown, for wrapping. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
