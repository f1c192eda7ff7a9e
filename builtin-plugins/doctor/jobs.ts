/**
 * Doctor checks of job state, through the public services only (resultStore.listJobs, queue.get):
 *   stuck-jobs     RUNNING records whose job left the queue (no worker will ever finish them), or
 *                  whose worker process on this host is gone (they come back when the lease expires);
 *   orphaned-jobs  PENDING / RETRYING records with no job in the queue (they will never run), e.g. a
 *                  producer killed between writing the records and the queue.
 * With `fix`, records that can never finish are marked FAILED with an error that says why, so they
 * can be retried (`retryJob` takes FAILED jobs only).
 * Must never: touch a job that a live worker may still finish; each suspect is read again first.
 */
import { hostname } from 'node:os';
import { messageOf, processAlive, type JobRecord, type JobStatus, type Queue, type ResultStore } from '../../sdk/plugin.ts';
import { finding, someIds, type Finding } from './report.ts';

/** Records examined per status group: enough for any real backlog of stuck jobs, bounded in time. */
const SCAN_LIMIT = 50_000;
const PAGE = 1000;

export interface JobCheckOptions {
  queue: Queue;
  results: ResultStore;
  /** Records younger than this are not judged: an enqueue or a claim may be halfway. */
  graceMs: number;
  fix: boolean;
  visibilityTimeoutSecs: number;
}

async function scan(results: ResultStore, status: JobStatus[]): Promise<{ records: JobRecord[]; truncated: boolean }> {
  const records: JobRecord[] = [];
  for (let offset = 0; offset < SCAN_LIMIT; offset += PAGE) {
    const page = await results.listJobs({ status, limit: PAGE, offset, order: 'asc' });
    records.push(...page);
    if (page.length < PAGE) return { records, truncated: false };
  }
  return { records, truncated: true };
}

/** The pid of a worker id made by the worker pool (`<host>:<pid>:<random>`), when it ran on this host. */
function localPid(workerId: string | null): number | null {
  if (!workerId) return null;
  const parts = workerId.split(':');
  if (parts.length < 3) return null;
  const pid = Number(parts[parts.length - 2]);
  return parts.slice(0, -2).join(':') === hostname() && Number.isInteger(pid) && pid > 0 ? pid : null;
}


/** Records (still in one of `statuses`) whose job is not in the queue, each read twice to rule out a race. */
async function withoutQueueEntry(o: JobCheckOptions, candidates: JobRecord[], statuses: JobStatus[]): Promise<JobRecord[]> {
  const lost: JobRecord[] = [];
  for (const rec of candidates) {
    if (await o.queue.get(rec.id)) continue;
    const again = await o.results.getFull(rec.id);
    if (again && statuses.includes(again.status) && !(await o.queue.get(rec.id))) lost.push(again);
  }
  return lost;
}

async function markFailed(o: JobCheckOptions, records: JobRecord[], why: string): Promise<void> {
  const now = new Date().toISOString();
  await o.results.putMany(records.map((r) => ({
    ...r, status: 'FAILED' as const, completedAt: now, nextRunAt: null, retriesLeft: 0,
    error: { name: 'NuvomError', message: `lost: ${why}; marked FAILED by \`nuvom doctor --fix\` at ${now}; retry the job to run it again`, stack: null },
  })));
}

const FIX_HINT = 'run `nuvom doctor --fix` to mark them FAILED, then retry the ones you need (`nuvom retry job ID`, or client.retryJob(id))';

export async function checkJobs(o: JobCheckOptions): Promise<Finding[]> {
  const out: Finding[] = [];
  const cutoff = Date.now() - o.graceMs;
  const old = (r: JobRecord) => Date.parse(r.startedAt ?? r.createdAt) <= cutoff;

  const running = await scan(o.results, ['RUNNING']);
  const lost = await withoutQueueEntry(o, running.records.filter(old), ['RUNNING']);
  const lostIds = new Set(lost.map((r) => r.id));
  const deadWorkers = new Map<number, string[]>();
  for (const r of running.records) {
    const pid = localPid(r.workerId);
    if (pid !== null && !lostIds.has(r.id) && !processAlive(pid)) deadWorkers.set(pid, [...(deadWorkers.get(pid) ?? []), r.id]);
  }
  const scanned = `${running.records.length}${running.truncated ? '+ (scan stopped)' : ''} RUNNING`;
  if (lost.length && o.fix) {
    await markFailed(o, lost, 'the job was RUNNING but no longer in the queue, so no worker could finish it');
    out.push(finding('stuck-jobs', 'warn', `marked ${lost.length} RUNNING job(s) that had left the queue FAILED: ${someIds(lost.map((r) => r.id))}`, 'retry the ones you need (`nuvom retry job ID`, or client.retryJob(id))', { count: lost.length, fixed: true, ids: lost.map((r) => r.id).slice(0, 100) }));
  } else if (lost.length) {
    out.push(finding('stuck-jobs', 'FAIL', `${lost.length} job(s) are RUNNING but no longer in the queue, so no worker will ever finish them: ${someIds(lost.map((r) => r.id))}`, FIX_HINT, { count: lost.length, ids: lost.map((r) => r.id).slice(0, 100) }));
  } else if (deadWorkers.size) {
    const ids = [...deadWorkers.values()].flat();
    out.push(finding('stuck-jobs', 'warn', `${ids.length} RUNNING job(s) belong to worker process(es) that are gone (pid ${[...deadWorkers.keys()].join(', ')}): ${someIds(ids)}`,
      `nothing is lost: a running worker claims them again once their lease expires (at most ${o.visibilityTimeoutSecs}s after the crash); make sure one runs (nuvom runworker)`, { count: ids.length, deadPids: [...deadWorkers.keys()], ids: ids.slice(0, 100) }));
  } else {
    out.push(finding('stuck-jobs', 'ok', running.records.length ? `${scanned} job(s), each still in the queue under a live or remote worker` : 'no RUNNING jobs', undefined, { count: 0, running: running.records.length }));
  }

  const waiting = await scan(o.results, ['PENDING', 'RETRYING']);
  const orphans = await withoutQueueEntry(o, waiting.records.filter(old), ['PENDING', 'RETRYING']);
  const ids = orphans.map((r) => r.id);
  if (orphans.length && o.fix) {
    await markFailed(o, orphans, `the job was ${orphans.length === 1 ? orphans[0].status : 'PENDING or RETRYING'} but not in the queue, so it could never run`);
    out.push(finding('orphaned-jobs', 'warn', `marked ${orphans.length} PENDING/RETRYING record(s) with no queued job FAILED: ${someIds(ids)}`, 'retry the ones you need (`nuvom retry job ID`, or client.retryJob(id))', { count: orphans.length, fixed: true, ids: ids.slice(0, 100) }));
  } else if (orphans.length) {
    out.push(finding('orphaned-jobs', 'FAIL', `${orphans.length} PENDING/RETRYING record(s) have no job in the queue, so they will never run (an enqueue was interrupted, or a worker that had lost its lease wrote over the record): ${someIds(ids)}`,
      FIX_HINT, { count: orphans.length, ids: ids.slice(0, 100) }));
  } else {
    out.push(finding('orphaned-jobs', 'ok', `${waiting.records.length}${waiting.truncated ? '+ (scan stopped)' : ''} PENDING/RETRYING record(s), each with its job in the queue`, undefined, { count: 0, waiting: waiting.records.length }));
  }
  return out;
}

export function jobCheckError(err: unknown): Finding {
  return finding('stuck-jobs', 'FAIL', `could not read the jobs: ${messageOf(err)}`, 'fix the storage problem reported above first');
}
