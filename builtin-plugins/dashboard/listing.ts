/**
 * The jobs listing behind GET /api/jobs: filters, search and keyset pagination over the result
 * store's `listJobs` (newest first by createdAt, then id). The cursor is the last row's (createdAt,
 * id); the next page asks for records created at or before it and drops those not strictly after it
 * in that order, so pages neither skip nor repeat rows when new jobs arrive. Jobs enqueued in one
 * batch share a millisecond: past a batch of them, it reads on with an offset.
 * Search: an exact id first (getJob), else the store's `idPrefix` filter (a bounded scan for a
 * store that ignores it).
 * A page that scanned SCAN_LIMIT records without filling up still has a next page when records are
 * left: it continues from the last one scanned.
 * Must never: scan more than SCAN_LIMIT records for one request; end the listing while records are left to scan.
 */
import { NuvomError, JOB_STATUSES, type JobRecord, type JobStatus } from '../../sdk/plugin.ts';
import type { DashboardSource } from './source.ts';

export const SCAN_LIMIT = 5000;
const MAX_LIMIT = 200;

export interface JobsQuery {
  status?: JobStatus;
  task?: string;
  tag?: string;
  q?: string;
  limit: number;
  cursor?: { createdAt: string; id: string };
  /** `args=false`: the records come without their `args` (the store need not read them). */
  withArgs: boolean;
}

const bad = (what: string) => new NuvomError('NUVOM_E_USAGE', what);

export function parseJobsQuery(params: URLSearchParams): JobsQuery {
  const q: JobsQuery = { limit: 50, withArgs: true };
  const args = params.get('args');
  if (args !== null) {
    if (args !== 'true' && args !== 'false') throw bad(`args="${args}" must be true or false (false: the records without their arguments)`);
    q.withArgs = args === 'true';
  }
  const status = params.get('status');
  if (status) {
    if (!JOB_STATUSES.includes(status as JobStatus)) throw bad(`status="${status}" is not a job status; use one of ${JOB_STATUSES.join(', ')}`);
    q.status = status as JobStatus;
  }
  const limit = params.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw bad(`limit="${limit}" must be a whole number from 1 to ${MAX_LIMIT}`);
    q.limit = n;
  }
  for (const k of ['task', 'tag', 'q'] as const) {
    const v = params.get(k);
    if (v) q[k] = v;
  }
  const cursor = params.get('cursor');
  if (cursor) q.cursor = decodeCursor(cursor);
  return q;
}

export function encodeCursor(r: { createdAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([r.createdAt, r.id])).toString('base64url');
}

function decodeCursor(s: string): { createdAt: string; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' && !Number.isNaN(Date.parse(v[0]))) return { createdAt: v[0], id: v[1] };
  } catch { /* reported below */ }
  throw bad(`cursor="${s}" is not a cursor this dashboard issued; pass the nextCursor of the previous page, or none for the first page`);
}

/** Strictly after the cursor in newest-first order (createdAt desc, then id desc). */
const after = (r: { createdAt: string; id: string }, c: { createdAt: string; id: string }) => r.createdAt < c.createdAt || (r.createdAt === c.createdAt && r.id < c.id);

/** Exact id, else the records whose id starts with `q` (newest first). */
export async function searchJobs(src: DashboardSource, q: string, limit: number, withArgs = true): Promise<JobRecord[]> {
  const exact = await src.getJob(q);
  if (exact) return [exact];
  const found = await src.listJobs({ idPrefix: q, limit, withArgs });
  // A store that ignores idPrefix (optional for third-party stores) returns other ids: scan instead.
  if (found.every((r) => r.id.startsWith(q))) return found;
  const scan = await src.listJobs({ limit: SCAN_LIMIT, withArgs });
  return scan.filter((r) => r.id.startsWith(q)).slice(0, limit);
}

/** A page of GET /api/jobs: records (without `args` when the query says `args=false`) and the next cursor. */
export async function listPage(src: DashboardSource, q: JobsQuery): Promise<{ jobs: Array<JobRecord | Omit<JobRecord, 'args'>>; nextCursor: string | null }> {
  const page = await findPage(src, q);
  return q.withArgs ? page : { jobs: page.jobs.map(({ args: _args, ...r }) => r), nextCursor: page.nextCursor };
}

async function findPage(src: DashboardSource, q: JobsQuery): Promise<{ jobs: JobRecord[]; nextCursor: string | null }> {
  const matches = (r: JobRecord) => (!q.status || r.status === q.status) && (!q.task || r.taskName === q.task) && (!q.tag || r.tags.includes(q.tag));
  if (q.q) return { jobs: (await searchJobs(src, q.q, q.limit, q.withArgs)).filter(matches), nextCursor: null };
  const out: JobRecord[] = [];
  let cursor = q.cursor;
  // createdBefore is exclusive: +1 ms keeps rows that share the cursor's millisecond.
  let before = cursor ? Date.parse(cursor.createdAt) + 1 : undefined;
  let offset = 0;
  let scanned = 0;
  let more = false;
  // The store filters status and task; a tag filter is applied here, so several batches may be read.
  while (out.length < q.limit + 1 && scanned < SCAN_LIMIT) {
    const batch = Math.min(SCAN_LIMIT - scanned, q.tag || offset ? 500 : q.limit + 20);
    const rows = await src.listJobs({ status: q.status, task: q.task, limit: batch, createdBefore: before, offset, withArgs: q.withArgs });
    scanned += rows.length;
    for (const r of rows) if ((!cursor || after(r, cursor)) && matches(r) && out.length < q.limit + 1) out.push(r);
    more = rows.length === batch;
    if (!more) break;
    const last = rows[rows.length - 1]!;
    // Rows read again from here on are dropped up to the cursor, which never moves back (a batch may end before it).
    if (!cursor || after(last, cursor)) cursor = { createdAt: last.createdAt, id: last.id };
    // A batch wholly inside the window's last millisecond (a bulk enqueue shares one createdAt): read
    // on past it with an offset, since createdBefore cannot move past that millisecond.
    const next = Date.parse(last.createdAt) + 1;
    if (next === before) offset += rows.length;
    else { before = next; offset = 0; }
  }
  const jobs = out.slice(0, q.limit);
  if (out.length > q.limit) return { jobs, nextCursor: encodeCursor(jobs[jobs.length - 1]!) };
  // The scan budget ran out with records left to read (a rare tag among many records): the page may
  // be short, even empty, and the next one reads on from the last record scanned. Never a cursor that
  // did not move past the one asked for (more than SCAN_LIMIT jobs in one millisecond), which would repeat the page.
  const moved = cursor !== undefined && (q.cursor === undefined || after(cursor, q.cursor));
  return { jobs, nextCursor: more && moved ? encodeCursor(cursor!) : null };
}
