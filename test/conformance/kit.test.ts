/**
 * The conformance kit can fail: broken implementations (each a memory backend with one behaviour
 * spoiled) are reported as not ok on the case that pins that behaviour, and the runner itself
 * reports factory failures and hung cases instead of throwing or hanging.
 */
import { expect } from 'chai';
import type { ClaimOptions, JobRecord, Queue, QueuedJob, ResultStore, ScheduleStore } from '../../sdk/plugin.ts';
import {
  runQueueConformance, runResultStoreConformance, runScheduleStoreConformance, runJobStoreConformance, queueCases,
  type ConformanceResult,
} from '../../sdk/testing/index.ts';
import { MemoryQueue, MemoryResultStore, MemoryScheduleStore } from '../../builtin-plugins/memory/index.ts';
import { pairJobStore } from '../../sdk/plugin.ts';

/** An object that forwards every method of `target` except the ones in `overrides`. */
function spoil<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(obj, key, receiver) {
      if (key in overrides) return (overrides as Record<PropertyKey, unknown>)[key];
      const value = Reflect.get(obj, key, receiver);
      return typeof value === 'function' ? value.bind(obj) : value;
    },
  });
}

const failed = (results: ConformanceResult[]) => results.filter((r) => !r.ok).map((r) => r.name);
/** What the generic pair (two calls, records first) cannot promise. */
const PAIR_FAILURES = [
  'enqueue is all or none: a duplicate job id refuses the batch (NUVOM_E_DUPLICATE_JOB) and writes nothing',
  'settle is fenced: a worker that does not hold the job changes neither the queue nor the record',
  'settle is fenced after a takeover: the first worker\'s late outcome is dropped, the second worker\'s stands',
];
const PRIORITY_CASE = 'claims higher priority first, then oldest first within a priority';

describe('conformance kit: it catches broken implementations', () => {
  it('the memory backends pass every case programmatically', async () => {
    expect(failed(await runQueueConformance(async () => ({ queue: new MemoryQueue() })))).to.deep.equal([]);
    expect(failed(await runResultStoreConformance(async () => ({ store: new MemoryResultStore() })))).to.deep.equal([]);
    expect(failed(await runScheduleStoreConformance(async () => ({ store: new MemoryScheduleStore() })))).to.deep.equal([]);
  });

  it('reports the priority case as not ok for a queue whose claim ignores priority', async () => {
    const results = await runQueueConformance(async () => {
      const inner = new MemoryQueue();
      const priorities = new Map<string, number>();
      const flatten = (job: QueuedJob): QueuedJob => {
        priorities.set(job.id, job.priority);
        return { ...job, priority: 0 };
      };
      const queue = spoil<Queue>(inner, {
        enqueue: (job) => inner.enqueue(flatten(job)),
        enqueueMany: (jobs) => inner.enqueueMany(jobs.map(flatten)),
        claim: async (opts: ClaimOptions) => (await inner.claim(opts)).map((j) => ({ ...j, priority: priorities.get(j.id) ?? 0 })),
        get: async (id) => {
          const job = await inner.get(id);
          return job && { ...job, priority: priorities.get(id) ?? 0 };
        },
      });
      return { queue };
    });
    expect(results).to.have.length(queueCases.length);
    expect(failed(results)).to.deep.equal([PRIORITY_CASE]);
    expect(results.find((r) => r.name === PRIORITY_CASE)?.error).to.be.a('string').and.not.be.empty;
  });

  it('reports lease cases as not ok for a queue whose ack ignores the worker', async () => {
    const results = await runQueueConformance(async () => {
      const inner = new MemoryQueue();
      const holders = new Map<string, string>();
      const queue = spoil<Queue>(inner, {
        claim: async (opts: ClaimOptions) => {
          const jobs = await inner.claim(opts);
          for (const job of jobs) holders.set(job.id, job.workerId);
          return jobs;
        },
        // acks on behalf of the current holder, whoever asks: a stale worker's ack wins
        ack: (id) => inner.ack(id, holders.get(id) ?? ''),
      });
      return { queue };
    });
    expect(failed(results)).to.include('ack by a worker that lost the lease does not remove the new holder\'s job');
  });

  it('reports the concurrency and lease cases as not ok for a queue that hands out leased jobs', async () => {
    const results = await runQueueConformance(async () => {
      const inner = new MemoryQueue();
      const queue = spoil<Queue>(inner, {
        // hands the job out but drops the lease at once, as if it had never been taken
        claim: async (opts: ClaimOptions) => {
          const jobs = await inner.claim(opts);
          for (const job of jobs) await inner.retry(job.id, opts.workerId, job.runAt);
          return jobs;
        },
      });
      return { queue };
    });
    expect(failed(results)).to.include.members([
      'a leased job is not claimed by another worker while its lease holds',
      'concurrent claimers (10 in parallel on 200 jobs) never share a job and lose none',
    ]);
  });

  it('reports the round-trip case for a result store that drops the error stack', async () => {
    const results = await runResultStoreConformance(async () => {
      const inner = new MemoryResultStore();
      const dropStack = (r: JobRecord): JobRecord => ({ ...r, error: r.error && { ...r.error, stack: null } });
      const store = spoil<ResultStore>(inner, {
        put: (r) => inner.put(dropStack(r)),
        putMany: (rs) => inner.putMany(rs.map(dropStack)),
      });
      return { store };
    });
    expect(failed(results)).to.include('put then getFull round-trips FAILED records with an error object (stack or null stack)');
  });

  it('reports the isolation case for a result store that keeps and hands out the caller\'s objects', async () => {
    const results = await runResultStoreConformance(async () => {
      const records = new Map<string, JobRecord>();
      const inner = new MemoryResultStore();
      const store = spoil<ResultStore>(inner, {
        put: async (r) => {
          records.set(r.id, r);
          await inner.put(r);
        },
        getFull: async (id) => records.get(id) ?? null,
      });
      return { store };
    });
    expect(failed(results)).to.include.members(['stored records are not changed by mutating the object put or the object returned']);
  });

  it('reports a schedule store whose claimDue does not move nextRunAt', async () => {
    const results = await runScheduleStoreConformance(async () => {
      const inner = new MemoryScheduleStore();
      const store = spoil<ScheduleStore>(inner, {
        claimDue: (now, advance, limit) => inner.claimDue(now, (e) => (advance(e), e.nextRunAt), limit),
      });
      return { store };
    });
    expect(failed(results)).to.include.members([
      'a second claimDue at the same now gets nothing: each fire time is won once',
      'concurrent claimDue calls never both win one fire time',
    ]);
  });
});

describe('conformance kit: the programmatic runner', () => {
  it('reports a failing factory on every case without throwing', async () => {
    const results = await runQueueConformance(async () => {
      throw new Error('cannot open the database');
    });
    expect(results).to.have.length(queueCases.length);
    for (const r of results) {
      expect(r.ok).to.equal(false);
      expect(r.error).to.match(/^the factory failed: cannot open the database/);
    }
  });

  it('closes the instance and runs cleanup after every case, failing or not', async () => {
    let opened = 0;
    let closed = 0;
    let cleaned = 0;
    const results = await runQueueConformance(async () => {
      opened += 1;
      const inner = new MemoryQueue();
      const queue = spoil<Queue>(inner, { close: async () => { closed += 1; } });
      return { queue, cleanup: async () => { cleaned += 1; } };
    });
    expect(results.every((r) => r.ok)).to.equal(true);
    expect([opened, closed, cleaned]).to.deep.equal([queueCases.length, queueCases.length, queueCases.length]);
  });

  it('reports a case that never settles as timed out, and filter picks cases by name', async () => {
    const results = await runQueueConformance(async () => {
      const inner = new MemoryQueue();
      return { queue: spoil<Queue>(inner, { claim: () => new Promise(() => {}) }) };
    }, { timeoutMs: 50, filter: (name) => name === PRIORITY_CASE });
    expect(results).to.deep.equal([{ name: PRIORITY_CASE, ok: false, error: 'timed out after 50 ms' }]);
  });

  it('reports a job store that is neither atomic nor fenced (the generic two-call pair) as not ok', async () => {
    const json = { name: 'json', encode: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)), decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) };
    const results = await runJobStoreConformance(async () => ({ store: pairJobStore(new MemoryQueue(), new MemoryResultStore(), json) }));
    expect(failed(results)).to.deep.equal(PAIR_FAILURES);
  });
});
