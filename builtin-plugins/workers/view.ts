/**
 * Reading heartbeats back: which result stores keep them (the optional HeartbeatStore contract) and
 * the view `nuvom workers --json` prints and GET /api/workers serves, with live/stale decided here.
 * Must never: delete a stale row (a worker that was only slow comes back live on its next beat).
 */
import type { HeartbeatStore, ResultStore, WorkerHeartbeat } from '../../sdk/plugin.ts';

/** A worker is stale after this many of its own heartbeat periods without a beat. */
export const STALE_PERIODS = 3;

export function hasHeartbeats(store: ResultStore): store is ResultStore & HeartbeatStore {
  const s = store as Partial<HeartbeatStore>;
  return typeof s.putHeartbeat === 'function' && typeof s.removeHeartbeat === 'function' && typeof s.listHeartbeats === 'function';
}

/** One worker as the CLI and the dashboard show it; times in ISO-8601 UTC. */
export interface WorkerView {
  workerId: string;
  host: string;
  pid: number;
  threads: number;
  busyThreads: number;
  jobsPerSec: number;
  startedAt: string;
  lastBeatAt: string;
  /** "stale": no beat for STALE_PERIODS periods (killed, hung, or cut off from the store). */
  state: 'live' | 'stale';
}

export function viewOf(b: WorkerHeartbeat, now: number): WorkerView {
  return {
    workerId: b.workerId, host: b.host, pid: b.pid, threads: b.threads, busyThreads: b.busyThreads,
    jobsPerSec: Math.round(b.jobsPerSec * 100) / 100,
    startedAt: new Date(b.startedAt).toISOString(), lastBeatAt: new Date(b.lastBeatAt).toISOString(),
    state: now - b.lastBeatAt > STALE_PERIODS * b.periodMs ? 'stale' : 'live',
  };
}

/** Every worker with a row, live ones first, each group oldest first. Empty when the store keeps no heartbeats. */
export async function listWorkers(store: ResultStore, now = Date.now()): Promise<WorkerView[]> {
  if (!hasHeartbeats(store)) return [];
  const views = (await store.listHeartbeats()).map((b) => viewOf(b, now));
  return [...views.filter((v) => v.state === 'live'), ...views.filter((v) => v.state === 'stale')];
}
