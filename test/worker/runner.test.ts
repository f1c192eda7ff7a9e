/**
 * The runner a worker thread (or the in-process host) hosts, driven through its messages alone: what
 * the pool counts on (protocol.ts) whatever the task is like: synchronous or async, returning a
 * thenable, throwing, reading currentJob().
 */
import { expect } from 'chai';
import { currentJob, task } from '../../sdk/index.ts';
import type { DoneBatch, FromThread, RunBatch, TaskRef } from '../../builtin-plugins/worker-pool/protocol.ts';
import { Runner } from '../../builtin-plugins/worker-pool/runner.ts';

const seen: Array<{ id: string | undefined; attempt: number | undefined; hasSignal: boolean }> = [];
task({ name: 'runner.sync' }, (n: number) => n * 2);
task({ name: 'runner.syncThrows' }, () => { throw new TypeError('sync bad'); });
task({ name: 'runner.thenable' }, (n: number) => ({ then: (ok: (v: number) => void) => ok(n + 1) }));
task({ name: 'runner.who' }, async (wait: number) => {
  const before = currentJob();
  await new Promise((r) => setTimeout(r, wait));
  const after = currentJob();
  const { signal } = after!;
  seen.push({ id: after?.id, attempt: after?.attempt, hasSignal: signal instanceof AbortSignal && before === after });
  return after?.id;
});

const thisSeen: unknown[] = [];
task({ name: 'runner.this' }, function (this: unknown) { thisSeen.push(this); });
task({ name: 'runner.thisHooked', beforeJob: () => undefined }, async function (this: unknown) { thisSeen.push(this); });

const ref = (taskName: string): TaskRef => ({ taskName, moduleUrl: null, exportName: null });

function batch(taskName: string, limit: number, args: unknown[][]): RunBatch {
  return { t: 'run', limit, tasks: [ref(taskName)], ids: args.map((_, i) => `${taskName}-${i}`), task: args.map(() => 0), args, attempts: args.map(() => 1) };
}

/** A runner whose posted messages are collected; `until(n)` waits (by polling, with a deadline) for n outcomes. */
function host() {
  const posted: FromThread[] = [];
  const runner = new Runner({ post: (m) => posted.push(m) });
  const done = () => posted.filter((m): m is DoneBatch => m.t === 'done');
  const count = () => done().reduce((n, m) => n + m.ids.length, 0);
  const until = async (n: number) => {
    const deadline = Date.now() + 5000;
    while (count() < n) {
      if (Date.now() > deadline) throw new Error(`only ${count()} of ${n} outcomes were posted`);
      await new Promise((r) => setImmediate(r));
    }
  };
  return { runner, posted, done, until };
}

describe('worker runner', () => {
  it('starts a backlog job only in a slot whose outcome was posted, also when jobs end synchronously', async () => {
    const h = host();
    h.runner.receive(batch('runner.sync', 2, [[1], [2], [3], [4], [5]]));
    await h.until(5);
    // Each message holds the outcomes of the jobs started after the one before it: 2, then the 2
    // that took their slots, then the last. Never more than `limit` ran before the pool heard.
    expect(h.done().map((m) => m.ids.length)).to.deep.equal([2, 2, 1]);
    expect(h.done().flatMap((m) => m.values)).to.deep.equal([2, 4, 6, 8, 10]);
  });

  it('reports a synchronous throw and a thenable as awaiting them would', async () => {
    const h = host();
    h.runner.receive(batch('runner.syncThrows', 2, [[]]));
    h.runner.receive(batch('runner.thenable', 2, [[41]]));
    await h.until(2);
    const all = h.done();
    const outcomes = all.flatMap((m) => m.ids.map((id, i) => ({ id, value: m.values[i], failed: m.failed.includes(i) })));
    expect(outcomes.find((o) => o.id === 'runner.syncThrows-0')).to.deep.include({ failed: true });
    expect((outcomes.find((o) => o.id === 'runner.syncThrows-0')!.value as { name: string; message: string })).to.include({ name: 'TypeError', message: 'sync bad' });
    expect(outcomes.find((o) => o.id === 'runner.thenable-0')).to.deep.include({ value: 42, failed: false });
  });

  it('gives each of several interleaved jobs its own currentJob() across awaits, with its signal', async () => {
    seen.length = 0;
    const h = host();
    h.runner.receive(batch('runner.who', 3, [[30], [10], [20]]));
    await h.until(3);
    expect(seen.map((s) => s.id).sort()).to.deep.equal(['runner.who-0', 'runner.who-1', 'runner.who-2']);
    expect(seen.every((s) => s.attempt === 1 && s.hasSignal)).to.equal(true);
    const values = h.done().flatMap((m) => m.ids.map((id, i) => [id, m.values[i]]));
    for (const [id, v] of values) expect(v).to.equal(id);
  });

  it('calls the task function without an instance (`this` undefined, docs/tasks.md), with or without hooks', async () => {
    thisSeen.length = 0;
    const h = host();
    h.runner.receive(batch('runner.this', 1, [[]]));
    h.runner.receive(batch('runner.thisHooked', 1, [[]]));
    await h.until(2);
    expect(thisSeen).to.deep.equal([undefined, undefined]);
  });

  it('aborts a running job: its signal fires with the reason, and a job still in the backlog is dropped', async () => {
    const aborted: string[] = [];
    task({ name: 'runner.waitsForAbort' }, () => new Promise((_, reject) => {
      const job = currentJob()!;
      const stop = () => { aborted.push(job.id); reject(job.signal.reason); };
      if (job.signal.aborted) stop();
      else job.signal.addEventListener('abort', stop);
    }));
    const h = host();
    h.runner.receive(batch('runner.waitsForAbort', 1, [[], []]));
    h.runner.receive({ t: 'abort', id: 'runner.waitsForAbort-1', reason: 'cancel' });
    h.runner.receive({ t: 'abort', id: 'runner.waitsForAbort-0', reason: 'timeout' });
    await h.until(2);
    expect(aborted).to.deep.equal(['runner.waitsForAbort-0']);
    const all = h.done();
    const byId = new Map(all.flatMap((m) => m.ids.map((id, i) => [id, { value: m.values[i] as { name: string }, dropped: m.dropped.includes(i) }])));
    expect(byId.get('runner.waitsForAbort-1')).to.deep.include({ dropped: true });
    expect(byId.get('runner.waitsForAbort-0')!.value.name).to.equal('TimeoutError');
  });
});
