/**
 * Small conversions between the contracts' values and SQLite columns: bytes <-> BLOB, JSON text,
 * ISO timestamps <-> epoch milliseconds.
 * Must never: hand back a Buffer where the contracts promise a Uint8Array (deep equality tells them apart).
 */
import { NuvomError, messageOf } from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './db.ts';

/** A Buffer view of the same bytes (no copy), for binding as a BLOB. */
export function toBlob(bytes: Uint8Array): Buffer {
  if (!(bytes instanceof Uint8Array)) {
    throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `expected encoded bytes (a Uint8Array), got ${typeof bytes}; encode values with the serializer service first`, { plugin: PLUGIN_NAME });
  }
  // msgpackr already hands back a Buffer: bind it as it is, without a second view per job.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array over a BLOB read back (better-sqlite3 returns a fresh Buffer per row). */
export function fromBlob(blob: Buffer): Uint8Array {
  return new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength);
}

export function toJson(value: unknown, what: string): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error('not a JSON value');
    return text;
  } catch (err) {
    throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${what} must be JSON-safe: ${messageOf(err)}`, { plugin: PLUGIN_NAME, cause: err });
  }
}

/** `owner` names the row in the error, e.g. "job 42" or "schedule nightly". */
export function fromJson(text: string, what: string, owner: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new NuvomError('NUVOM_E_DESERIALIZE', `the stored ${what} of ${owner} is not valid JSON: ${messageOf(err)}`, { plugin: PLUGIN_NAME, cause: err, details: { owner } });
  }
}

const parsedText: Array<string | undefined> = [undefined, undefined, undefined, undefined];
const parsedMs = [0, 0, 0, 0];
let parsedNext = 0;

/** Epoch ms from an ISO-8601 string or a number; `what` names the field in the error. */
export function toMs(value: string | number, what: string): number {
  if (typeof value === 'string') {
    // Records of one batch repeat a few timestamps (see sdk/records.ts): skip re-parsing them.
    for (let i = 0; i < 4; i++) if (parsedText[i] === value) return parsedMs[i];
  }
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (typeof value === 'string' && Number.isFinite(ms)) {
    parsedText[parsedNext] = value;
    parsedMs[parsedNext] = ms;
    parsedNext = (parsedNext + 1) & 3;
  }
  if (!Number.isFinite(ms)) {
    throw new NuvomError('NUVOM_E_STORAGE', `${what} must be an ISO-8601 date string or epoch milliseconds, got ${JSON.stringify(value)}`, { plugin: PLUGIN_NAME });
  }
  return ms;
}

export function toMsOrNull(value: string | null, what: string): number | null {
  return value === null || value === undefined ? null : toMs(value, what);
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toIsoOrNull(ms: number | null): string | null {
  return ms === null ? null : toIso(ms);
}
