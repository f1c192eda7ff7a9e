/**
 * File names of the file queue. A job's mutable state lives in its file NAME, so every state change
 * is one atomic rename and a directory listing alone answers "what is claimable, in which order":
 *
 *   ready/  <prio>-<runAt>-<seq>-<attempts>-<key>.job
 *   leased/ <prio>-<runAt>-<seq>-<attempts>-<key>~<leaseExpiresAt>~<worker>.job
 *
 * <prio> is the NEGATED priority and <runAt>/<leaseExpiresAt> are epoch ms, each as 16 hex digits of
 * an order-preserving float64 encoding, so plain string order is "highest priority, then earliest
 * runAt, then enqueue order". <seq> is a host-wide monotonic clock (hrtime), the FIFO tie-breaker.
 * <attempts> counts attempts started (a claim increments it).
 *
 * Ids and worker ids are never used as raw paths: a short lower-case [a-z0-9_-] id is its own key,
 * anything else (slashes, "..", upper case that would collide on case-insensitive disks, long ids)
 * becomes "=" + a SHA-256 prefix. The job file holds the real id.
 * Must never: produce a name containing a path separator or a name longer than 255 bytes.
 */
import { createHash } from 'node:crypto';

const RAW_KEY = /^[a-z0-9_-]{1,64}$/;
const RAW_WORKER = /^[a-z0-9_-]{1,48}$/;

/** The file-name-safe key of a job id. Injective in practice: raw keys never start with "=". */
export function keyOfId(id: string): string {
  return RAW_KEY.test(id) ? id : `=${createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 40)}`;
}

/** The file-name-safe tag of a worker id (the lease holder, compared by tag). */
export function tagOfWorker(workerId: string): string {
  return RAW_WORKER.test(workerId) ? workerId : `=${createHash('sha256').update(workerId, 'utf8').digest('hex').slice(0, 32)}`;
}

/** 16 hex digits whose string order is the numeric order of `x` (any finite float64). */
export function sortableHex(x: number): string {
  const buf = Buffer.alloc(8);
  buf.writeDoubleBE(x === 0 ? 0 : x); // folds -0 into 0
  if (buf[0] & 0x80) for (let i = 0; i < 8; i++) buf[i] = ~buf[i] & 0xff;
  else buf[0] ^= 0x80;
  return buf.toString('hex');
}

export function fromSortableHex(hex: string): number {
  const buf = Buffer.from(hex, 'hex');
  if (buf[0] & 0x80) buf[0] ^= 0x80;
  else for (let i = 0; i < 8; i++) buf[i] = ~buf[i] & 0xff;
  return buf.readDoubleBE(0);
}

let lastSeq = 0n;

/** Strictly increasing in this process; comparable across processes of one host (CLOCK_MONOTONIC). */
export function nextSeq(): string {
  let s = process.hrtime.bigint();
  if (s <= lastSeq) s = lastSeq + 1n;
  lastSeq = s;
  return s.toString(16).padStart(16, '0');
}

export interface JobName {
  priority: number;
  runAt: number;
  seq: string;
  attempts: number;
  key: string;
  /** Present on leased names only. */
  lease?: { expiresAt: number; worker: string };
}

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})-([0-9a-f]{16})-(\d{1,9})-([a-z0-9_-]{1,64}|=[0-9a-f]{40})(?:~([0-9a-f]{16})~([a-z0-9_-]{1,48}|=[0-9a-f]{32}))?\.job$/;

export function formatName(n: JobName): string {
  const base = `${sortableHex(-n.priority)}-${sortableHex(n.runAt)}-${n.seq}-${n.attempts}-${n.key}`;
  return n.lease ? `${base}~${sortableHex(n.lease.expiresAt)}~${n.lease.worker}.job` : `${base}.job`;
}

/** The parsed name, or null for anything that is not a job file name of this layout. */
export function parseName(name: string): JobName | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const parsed: JobName = {
    priority: -fromSortableHex(m[1]) + 0,
    runAt: fromSortableHex(m[2]),
    seq: m[3],
    attempts: Number(m[4]),
    key: m[5],
  };
  if (m[6] !== undefined) parsed.lease = { expiresAt: fromSortableHex(m[6]), worker: m[7] };
  if (!Number.isFinite(parsed.priority) || !Number.isFinite(parsed.runAt)) return null;
  if (parsed.lease && !Number.isFinite(parsed.lease.expiresAt)) return null;
  return parsed;
}

/** The part of a name that orders jobs (priority, runAt, seq); equal for a job's ready and leased names. */
export function orderKey(name: string): string {
  return name.slice(0, 50);
}
