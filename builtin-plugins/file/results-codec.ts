/**
 * One line of results.jsonl: a whole JobRecord as JSON, with the user values (args, result) encoded
 * by the serializer service as base64, and the serializer's name so a reader knows what wrote it.
 *
 *   {"v":1,"op":"put","s":"msgpack","rec":{...JobRecord, "args":"<b64>", "result":"<b64>"}}
 *
 * `rec.history` (the attempts, plain JSON) came later within line version 1: a line without it has none.
 *
 * Must never: return a half-decoded record; bytes that do not decode raise NUVOM_E_DESERIALIZE naming
 * the job. A line that is not even JSON is the log's business (skipped with a warning).
 */
import {
  JOB_STATUSES, NuvomError, historyOf, messageOf, type JobError, type JobRecord, type JobStatus, type Serializer, type TimeoutPolicy,
} from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './fsutil.ts';

export const LINE_VERSION = 1;

/** What the index keeps per record: enough for filters, order, stats and purge without a read. */
export interface Summary {
  id: string;
  status: JobStatus;
  taskName: string;
  createdAt: string;
  createdAtMs: number;
  completedAtMs: number | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const POLICIES: readonly TimeoutPolicy[] = ['retry', 'fail', 'ignore'];

function usage(message: string): NuvomError {
  return new NuvomError('NUVOM_E_USAGE', message, { plugin: PLUGIN_NAME });
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The record as one line (with its trailing newline). Throws before anything is written. */
export function encodeLine(record: JobRecord, serializer: Serializer): string {
  if (!isObj(record)) throw usage('a job record must be an object');
  if (typeof record.id !== 'string' || record.id === '') throw usage('a job record needs a non-empty string id');
  if (!JOB_STATUSES.includes(record.status)) throw usage(`job ${record.id}: status ${JSON.stringify(record.status)} is not one of ${JOB_STATUSES.join(', ')}`);
  if (typeof record.taskName !== 'string') throw usage(`job ${record.id}: taskName must be a string`);
  if (typeof record.createdAt !== 'string' || Number.isNaN(Date.parse(record.createdAt))) throw usage(`job ${record.id}: createdAt must be an ISO-8601 string`);
  for (const k of ['startedAt', 'completedAt', 'nextRunAt'] as const) {
    const v = record[k];
    if (v !== null && (typeof v !== 'string' || Number.isNaN(Date.parse(v)))) throw usage(`job ${record.id}: ${k} must be an ISO-8601 string or null`);
  }
  if (!Array.isArray(record.args)) throw usage(`job ${record.id}: args must be an array`);
  const rec = {
    id: record.id,
    taskName: record.taskName,
    args: b64(serializer.encode(record.args)),
    status: record.status,
    attempts: record.attempts,
    maxRetries: record.maxRetries,
    retriesLeft: record.retriesLeft,
    priority: record.priority,
    tags: record.tags,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    completedAt: record.completedAt,
    nextRunAt: record.nextRunAt,
    result: b64(serializer.encode(record.result === undefined ? null : record.result)),
    error: record.error === null || record.error === undefined ? null : errorOf(record.error),
    timeoutSecs: record.timeoutSecs,
    timeoutPolicy: record.timeoutPolicy,
    workerId: record.workerId,
    history: record.history ?? [],
  };
  return `${JSON.stringify({ v: LINE_VERSION, op: 'put', s: serializer.name, rec })}\n`;
}

function errorOf(e: JobError): JobError {
  return { name: String(e.name), message: String(e.message), stack: e.stack == null ? null : String(e.stack) };
}

/** The parsed line and its summary, or a reason why the line is unusable. */
export function parseLine(text: string): { line: Record<string, unknown>; summary: Summary } | { reason: string } {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch (err) {
    return { reason: `not JSON (${messageOf(err)})` };
  }
  if (!isObj(line)) return { reason: 'not a JSON object' };
  if (line.v !== LINE_VERSION) return { reason: `line format version ${JSON.stringify(line.v)} is not supported` };
  if (line.op !== 'put') return { reason: `unknown op ${JSON.stringify(line.op)}` };
  const rec = line.rec;
  if (!isObj(rec)) return { reason: 'no record' };
  if (typeof rec.id !== 'string' || rec.id === '') return { reason: 'record without id' };
  if (!JOB_STATUSES.includes(rec.status as JobStatus)) return { reason: `record ${rec.id} has an unknown status` };
  if (typeof rec.taskName !== 'string' || typeof rec.createdAt !== 'string') return { reason: `record ${rec.id} lacks taskName or createdAt` };
  const createdAtMs = Date.parse(rec.createdAt);
  if (Number.isNaN(createdAtMs)) return { reason: `record ${rec.id} has a bad createdAt` };
  const completedAtMs = typeof rec.completedAt === 'string' ? Date.parse(rec.completedAt) : null;
  return {
    line,
    summary: {
      id: rec.id,
      status: rec.status as JobStatus,
      taskName: rec.taskName,
      createdAt: rec.createdAt,
      createdAtMs,
      completedAtMs: completedAtMs === null || Number.isNaN(completedAtMs) ? null : completedAtMs,
    },
  };
}

/** The JobRecord of a parsed line, user values decoded by `serializer`. */
export function decodeRecord(line: Record<string, unknown>, serializer: Serializer): JobRecord {
  const rec = line.rec as Record<string, unknown>;
  const id = rec.id as string;
  const writtenWith = typeof line.s === 'string' ? line.s : 'unknown';
  const decode = (field: 'args' | 'result'): unknown => {
    const value = rec[field];
    if (typeof value !== 'string') throw deserialize(id, `${field} is not base64 text`);
    try {
      return serializer.decode(Buffer.from(value, 'base64'));
    } catch (err) {
      const hint = writtenWith !== serializer.name ? ` (written with the "${writtenWith}" serializer, read with "${serializer.name}"; set serializationBackend back)` : '';
      throw deserialize(id, `${field} could not be decoded${hint}: ${messageOf(err)}`, err);
    }
  };
  const args = decode('args');
  if (!Array.isArray(args)) throw deserialize(id, 'args did not decode to an array');
  const error = rec.error;
  if (error !== null && !(isObj(error) && typeof error.name === 'string' && typeof error.message === 'string')) {
    throw deserialize(id, 'error is not a { name, message, stack } object');
  }
  const policy = rec.timeoutPolicy as TimeoutPolicy;
  return {
    id,
    taskName: rec.taskName as string,
    args,
    status: rec.status as JobStatus,
    attempts: num(rec.attempts),
    maxRetries: num(rec.maxRetries),
    retriesLeft: num(rec.retriesLeft),
    priority: num(rec.priority),
    tags: Array.isArray(rec.tags) ? rec.tags.map(String) : [],
    createdAt: rec.createdAt as string,
    startedAt: strOrNull(rec.startedAt),
    completedAt: strOrNull(rec.completedAt),
    nextRunAt: strOrNull(rec.nextRunAt),
    result: decode('result'),
    error: error === null ? null : { name: error.name as string, message: error.message as string, stack: typeof error.stack === 'string' ? error.stack : null },
    timeoutSecs: num(rec.timeoutSecs),
    timeoutPolicy: POLICIES.includes(policy) ? policy : 'retry',
    workerId: strOrNull(rec.workerId),
    history: historyOf(rec.history, id, 'NUVOM_E_DESERIALIZE', PLUGIN_NAME),
  };
}

const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function deserialize(id: string, what: string, cause?: unknown): NuvomError {
  return new NuvomError('NUVOM_E_DESERIALIZE', `the stored record of job ${id} is unreadable: ${what}`, { plugin: PLUGIN_NAME, cause, details: { jobId: id } });
}
