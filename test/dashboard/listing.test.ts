import { expect } from 'chai';
import { listPage, parseJobsQuery, SCAN_LIMIT } from '../../builtin-plugins/dashboard/listing.ts';
import type { DashboardSource } from '../../builtin-plugins/dashboard/source.ts';
import type { JobRecord, ListJobsFilter } from '../../sdk/plugin.ts';

/** A source over records in memory, filtering and ordering as a result store's listJobs does (newest first). */
function memorySource(records: JobRecord[]): DashboardSource & { reads: number } {
  const sorted = [...records].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  const src = {
    reads: 0,
    async getJob(id: string) { return records.find((r) => r.id === id) ?? null; },
    async listJobs(f: ListJobsFilter = {}) {
      src.reads++;
      const before = f.createdBefore === undefined ? Infinity : Number(f.createdBefore);
      const rows = sorted.filter((r) => (!f.status || r.status === f.status) && (!f.task || r.taskName === f.task) && Date.parse(r.createdAt) < before);
      return rows.slice(f.offset ?? 0, (f.offset ?? 0) + (f.limit ?? 50));
    },
    retryJob: async () => { throw new Error('unused'); },
    cancelJob: async () => { throw new Error('unused'); },
    stats: async () => { throw new Error('unused'); },
    listSchedules: async () => [],
    cancelSchedule: async () => false,
  };
  return src;
}

function record(i: number, tags: string[]): JobRecord {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    id: `job-${String(i).padStart(6, '0')}`, taskName: 't', args: [], status: 'SUCCESS', attempts: 1, maxRetries: 0, retriesLeft: 0, priority: 0, tags,
    createdAt: at, startedAt: at, completedAt: at, nextRunAt: null, result: null, error: null, timeoutSecs: 30, timeoutPolicy: 'retry', workerId: null, history: [],
  };
}

describe('dashboard: jobs listing by tag over more records than one request scans', function () {
  it('pages on past the newest SCAN_LIMIT records instead of ending the listing (a rare tag among many records)', async () => {
    // Three records tagged "rare": one among the newest, two older than the newest SCAN_LIMIT * 2.
    const n = SCAN_LIMIT * 3;
    const rare = new Set([n - 10, 1000, 20]);
    const src = memorySource(Array.from({ length: n }, (_, i) => record(i, rare.has(i) ? ['rare'] : ['common'])));
    const found: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const params = new URLSearchParams({ tag: 'rare', limit: '50' });
      if (cursor) params.set('cursor', cursor);
      const page = await listPage(src, parseJobsQuery(params));
      found.push(...page.jobs.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(found).to.deep.equal([record(n - 10, []).id, record(1000, []).id, record(20, []).id]);
    expect(pages).to.be.at.most(4);
  });

  it('still ends the listing when the scan reaches the oldest record', async () => {
    const src = memorySource(Array.from({ length: 300 }, (_, i) => record(i, i === 5 ? ['rare'] : [])));
    const page = await listPage(src, parseJobsQuery(new URLSearchParams({ tag: 'rare' })));
    expect(page.jobs.map((r) => r.id)).to.deep.equal([record(5, []).id]);
    expect(page.nextCursor).to.equal(null);
  });
});
