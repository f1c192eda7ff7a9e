/**
 * The content of one job file: a small JSON envelope with a format version; args bytes as base64.
 * The envelope holds what never changes after enqueue; runAt, attempts and the lease live in the
 * file's name (names.ts), which wins over the envelope's copies.
 * Must never: trust bytes read back from disk; decodeJob checks every field and throws a reason.
 */
import { NuvomError, type JobOptions, type QueuedJob } from '../../sdk/plugin.ts';

export const JOB_FORMAT = 'nuvom.file-job';
export const JOB_FORMAT_VERSION = 1;

interface Envelope {
  format: typeof JOB_FORMAT;
  v: typeof JOB_FORMAT_VERSION;
  id: string;
  taskName: string;
  args: string;
  priority: number;
  runAt: number;
  attempts: number;
  createdAt: number;
  options: JobOptions;
  meta: Record<string, unknown>;
}

/** Throws NUVOM_E_USAGE when the job cannot be stored as given (the queue is left unchanged). */
export function validateJob(job: QueuedJob, plugin: string): void {
  const bad = (what: string) => new NuvomError('NUVOM_E_USAGE', `cannot enqueue job ${JSON.stringify(job?.id)}: ${what}`, { plugin, hook: 'enqueue' });
  if (!job || typeof job !== 'object') throw bad('expected a QueuedJob object');
  if (typeof job.id !== 'string' || job.id === '') throw bad('id must be a non-empty string');
  if (typeof job.taskName !== 'string' || job.taskName === '') throw bad('taskName must be a non-empty string');
  if (!(job.args instanceof Uint8Array)) throw bad('args must be a Uint8Array (encoded by the serializer)');
  for (const k of ['priority', 'runAt', 'createdAt'] as const) {
    if (typeof job[k] !== 'number' || !Number.isFinite(job[k])) throw bad(`${k} must be a finite number`);
  }
  if (!Number.isInteger(job.attempts) || job.attempts < 0 || job.attempts > 999_999_999) throw bad('attempts must be a whole number >= 0');
  if (!job.options || typeof job.options !== 'object') throw bad('options must be an object');
  if (!job.meta || typeof job.meta !== 'object' || Array.isArray(job.meta)) throw bad('meta must be a plain object');
}

export function encodeJob(job: QueuedJob): Buffer {
  const env: Envelope = {
    format: JOB_FORMAT,
    v: JOB_FORMAT_VERSION,
    id: job.id,
    taskName: job.taskName,
    args: Buffer.from(job.args.buffer, job.args.byteOffset, job.args.byteLength).toString('base64'),
    priority: job.priority,
    runAt: job.runAt,
    attempts: job.attempts,
    createdAt: job.createdAt,
    options: job.options,
    meta: job.meta,
  };
  return Buffer.from(`${JSON.stringify(env)}\n`, 'utf8');
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The job in a file's bytes; throws an Error whose message is the reason the file is unusable. */
export function decodeJob(bytes: Buffer): QueuedJob {
  let env: unknown;
  try {
    env = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`not a complete JSON job envelope (${bytes.length} bytes): ${(err as Error).message}`);
  }
  if (!isObj(env)) throw new Error('the job envelope is not a JSON object');
  if (env.format !== JOB_FORMAT) throw new Error(`unknown format ${JSON.stringify(env.format)}, expected ${JOB_FORMAT}`);
  if (env.v !== JOB_FORMAT_VERSION) throw new Error(`format version ${JSON.stringify(env.v)} is not supported (this nuvom reads ${JOB_FORMAT_VERSION})`);
  if (typeof env.id !== 'string' || env.id === '') throw new Error('id is missing');
  if (typeof env.taskName !== 'string') throw new Error('taskName is missing');
  if (typeof env.args !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(env.args)) throw new Error('args is not base64');
  for (const k of ['priority', 'runAt', 'createdAt', 'attempts'] as const) {
    if (!finite(env[k])) throw new Error(`${k} is not a finite number`);
  }
  if (!isObj(env.options)) throw new Error('options is not an object');
  if (!isObj(env.meta)) throw new Error('meta is not an object');
  return {
    id: env.id,
    taskName: env.taskName,
    args: Buffer.from(env.args, 'base64'),
    priority: env.priority as number,
    runAt: env.runAt as number,
    attempts: env.attempts as number,
    createdAt: env.createdAt as number,
    options: env.options as unknown as JobOptions,
    meta: env.meta,
  };
}
