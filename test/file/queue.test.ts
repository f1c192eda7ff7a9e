/** The file queue: atomic files, claim order, leases, quarantine and safe names, in one directory. */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { FileQueue } from '../../builtin-plugins/file/index.ts';
import { decodeJob } from '../../builtin-plugins/file/codec.ts';
import { isNuvomError, type QueuedJob } from '../../sdk/plugin.ts';
import { makeQueuedJob } from '../../sdk/testing/index.ts';
import { keepingLogger, startFixture, tempDirs, until, type Child } from './helpers.ts';

const LEASE = 30_000;

describe('file queue', () => {
  const dirs = tempDirs('nuvom-file-queue-');
  const opened: FileQueue[] = [];
  const children: Child[] = [];

  function open(dir: string, logger = keepingLogger().logger): FileQueue {
    const q = new FileQueue(dir, logger);
    opened.push(q);
    return q;
  }

  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    for (const q of opened.splice(0)) await q.close();
    dirs.cleanup();
  });

  /** A job ready well before `t0`, numbered so FIFO order is unambiguous. */
  const readyJob = (t0: number, n: number, o: Partial<QueuedJob> = {}) => makeQueuedJob({ runAt: t0 - 10_000 + n, createdAt: t0 - 10_000 + n, ...o });

  describe('writing', () => {
    it('keeps one complete .job file per job in ready/ and leaves nothing in tmp/', async () => {
      const dir = dirs.make();
      const q = open(dir);
      const jobs = Array.from({ length: 20 }, (_, n) => makeQueuedJob({ args: new Uint8Array(1000).fill(n) }));
      await q.enqueueMany(jobs);
      const names = fs.readdirSync(path.join(dir, 'ready'));
      expect(names).to.have.length(20);
      for (const name of names) {
        expect(name).to.match(/^[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{16}-0-[a-z0-9_-]+\.job$/);
        expect(decodeJob(fs.readFileSync(path.join(dir, 'ready', name))).args.length).to.equal(1000);
      }
      expect(fs.readdirSync(path.join(dir, 'tmp'))).to.deep.equal([]);
    });

    it('writes each job to a <pid>-<random>.tmp file in tmp/ and renames it into ready/ only when complete', async () => {
      const dir = dirs.make();
      const q = open(dir);
      const renames: Array<[string, string]> = [];
      const original = fs.renameSync;
      (fs as { renameSync: typeof fs.renameSync }).renameSync = (from, to) => {
        renames.push([String(from), String(to)]);
        // At the moment of the rename the temp file is already whole and decodable.
        decodeJob(fs.readFileSync(from));
        original(from, to);
      };
      try {
        await q.enqueue(makeQueuedJob({ args: new Uint8Array(200_000).fill(7) }));
      } finally {
        (fs as { renameSync: typeof fs.renameSync }).renameSync = original;
      }
      expect(renames).to.have.length(1);
      const [from, to] = renames[0];
      expect(path.dirname(from)).to.equal(path.join(dir, 'tmp'));
      expect(path.basename(from)).to.match(new RegExp(`^${process.pid}-[0-9a-f]{12}\\.tmp$`));
      expect(path.dirname(to)).to.equal(path.join(dir, 'ready'));
      expect(to).to.match(/\.job$/);
    });

    it('never shows a partial job file to a reader while another process enqueues', async function () {
      this.timeout(60_000);
      const dir = dirs.make();
      const reader = open(dir);
      const writer = startFixture(['enqueue', dir, '150', '65536']);
      children.push(writer);
      let finished = false;
      void writer.line((l) => l === 'done').then(() => { finished = true; }, () => { finished = true; });
      const checked = new Set<string>();
      const failures: string[] = [];
      // Read every file the moment it shows up in ready/, until the writer is done.
      while (!finished || checked.size < 150) {
        for (const name of fs.readdirSync(path.join(dir, 'ready'))) {
          if (checked.has(name)) continue;
          if (!name.endsWith('.job')) failures.push(`unexpected name ${name}`);
          try {
            const job = decodeJob(fs.readFileSync(path.join(dir, 'ready', name)));
            if (job.args.length !== 65536) failures.push(`${name}: ${job.args.length} bytes of args`);
          } catch (err) {
            failures.push(`${name}: ${(err as Error).message}`);
          }
          checked.add(name);
        }
        if (finished && checked.size < 150) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      expect(await writer.exited, writer.stderr()).to.equal(0);
      expect(failures).to.deep.equal([]);
      expect(checked.size).to.equal(150);
      expect(await reader.qsize()).to.equal(150);
    });
  });

  describe('claiming', () => {
    it('claims by priority, then FIFO, across two instances on one directory', async () => {
      const dir = dirs.make();
      const producer = open(dir);
      const consumer = open(dir);
      const t0 = Date.now();
      const jobs = [2, 0, 2, -3, 1.5, 0, 100].map((priority, n) => readyJob(t0, n, { priority }));
      for (const job of jobs) await producer.enqueue(job);
      const expected = jobs.map((j, n) => ({ id: j.id, p: j.priority, n })).sort((a, b) => b.p - a.p || a.n - b.n).map((j) => j.id);
      const got: string[] = [];
      for (let c = await consumer.claim({ max: 1, workerId: 'w1', leaseMs: LEASE, now: t0 }); c.length; c = await consumer.claim({ max: 1, workerId: 'w1', leaseMs: LEASE, now: t0 })) {
        got.push(c[0].id);
      }
      expect(got).to.deep.equal(expected);
    });

    it('holds delayed jobs back until their runAt and reports them as delayed', async () => {
      const dir = dirs.make();
      const q = open(dir);
      const t0 = Date.now();
      const later = makeQueuedJob({ runAt: t0 + 5_000, priority: 50 });
      const now = readyJob(t0, 0);
      await q.enqueueMany([later, now]);
      expect(await q.counts(t0)).to.deep.equal({ ready: 1, delayed: 1, leased: 0 });
      expect(await q.nextRunAt()).to.equal(now.runAt);
      expect((await q.claim({ max: 5, workerId: 'w', leaseMs: LEASE, now: t0 })).map((j) => j.id)).to.deep.equal([now.id]);
      expect(await q.claim({ max: 5, workerId: 'w', leaseMs: LEASE, now: t0 + 4_999 })).to.deep.equal([]);
      expect(await q.nextRunAt()).to.equal(later.runAt);
      const [due] = await q.claim({ max: 5, workerId: 'w', leaseMs: LEASE, now: t0 + 5_000 });
      expect(due.id).to.equal(later.id);
      expect(due.runAt).to.equal(later.runAt);
    });

    it('redelivers a job whose lease expired, counting attempts, and keeps the expiry in the leased file name', async () => {
      const dir = dirs.make();
      const a = open(dir);
      const b = open(dir);
      const t0 = Date.now();
      const job = readyJob(t0, 0);
      await a.enqueue(job);
      const [first] = await a.claim({ max: 1, workerId: 'worker-a', leaseMs: 1_000, now: t0 });
      expect(first.attempts).to.equal(1);
      const leased = fs.readdirSync(path.join(dir, 'leased'));
      expect(leased).to.have.length(1);
      expect(leased[0]).to.match(/~[0-9a-f]{16}~worker-a\.job$/);
      expect(await b.claim({ max: 1, workerId: 'worker-b', leaseMs: 1_000, now: t0 + 999 })).to.deep.equal([]);
      const [second] = await b.claim({ max: 1, workerId: 'worker-b', leaseMs: 1_000, now: t0 + 1_000 });
      expect(second).to.include({ id: job.id, attempts: 2, workerId: 'worker-b', leaseExpiresAt: t0 + 2_000 });
      await a.ack(job.id, 'worker-a'); // the lost lease: a no-op
      const [third] = await a.claim({ max: 1, workerId: 'worker-a', leaseMs: 1_000, now: t0 + 5_000 });
      expect(third).to.include({ id: job.id, attempts: 3 });
      expect(Array.from(third.args)).to.deep.equal(Array.from(job.args));
    });

    it('never hands one job to two processes: 2 child processes claim 500 jobs, each exactly once', async function () {
      this.timeout(60_000);
      const dir = dirs.make();
      const q = open(dir);
      const jobs = Array.from({ length: 500 }, (_, n) => makeQueuedJob({ priority: n % 3 }));
      await q.enqueueMany(jobs);
      const workers = [startFixture(['claim', dir, 'proc-a']), startFixture(['claim', dir, 'proc-b'])];
      children.push(...workers);
      await Promise.all(workers.map((w) => w.line((l) => l === 'ready')));
      for (const w of workers) w.send('go');
      const results = await Promise.all(workers.map(async (w) => JSON.parse(await w.line((l) => l.startsWith('{'))) as { ids: string[] }));
      for (const w of workers) expect(await w.exited, w.stderr()).to.equal(0);
      const all = results.flatMap((r) => r.ids);
      expect(new Set(all).size, 'a job was claimed twice').to.equal(all.length);
      expect(all).to.have.length(500);
      expect(new Set(all)).to.deep.equal(new Set(jobs.map((j) => j.id)));
      expect(results[0].ids.length, 'one process claimed nothing').to.be.greaterThan(0);
      expect(results[1].ids.length, 'one process claimed nothing').to.be.greaterThan(0);
      // Each process acked every other job it claimed; the rest are still leased.
      const acked = results.reduce((n, r) => n + Math.floor(r.ids.length / 2), 0);
      expect(await q.counts()).to.deep.equal({ ready: 0, delayed: 0, leased: 500 - acked });
    });
  });

  describe('bad files', () => {
    it('quarantines an undecodable job file with a .reason and still claims the healthy job behind it', async () => {
      const dir = dirs.make();
      const { logger, lines } = keepingLogger();
      const q = open(dir, logger);
      const t0 = Date.now();
      const healthy = readyJob(t0, 0, { priority: 0 });
      await q.enqueue(healthy);
      // A higher-priority file cut off mid-write (what the original's non-atomic write left behind).
      const victim = readyJob(t0, 1, { priority: 9 });
      const other = open(dirs.make());
      await other.enqueue(victim);
      const [name] = fs.readdirSync(path.join(other.dir, 'ready'));
      const bytes = fs.readFileSync(path.join(other.dir, 'ready', name));
      fs.writeFileSync(path.join(dir, 'ready', name), bytes.subarray(0, 40));

      const fresh = open(dir, logger);
      const claimed = await fresh.claim({ max: 1, workerId: 'w', leaseMs: LEASE, now: t0 });
      expect(claimed.map((j) => j.id)).to.deep.equal([healthy.id]);
      const corrupt = fs.readdirSync(path.join(dir, '.corrupt')).sort();
      expect(corrupt).to.have.length(2);
      const [moved, reason] = corrupt;
      expect(moved).to.match(/\.job$/);
      expect(moved).to.include(victim.id);
      expect(reason).to.equal(`${moved}.reason`);
      expect(fs.readFileSync(path.join(dir, '.corrupt', moved)).equals(bytes.subarray(0, 40)), 'the bytes were kept as they were').to.equal(true);
      expect(fs.readFileSync(path.join(dir, '.corrupt', reason), 'utf8')).to.match(/not a complete JSON job envelope/);
      expect(lines.some((l) => l.level === 'warn' && /quarantined/.test(l.msg))).to.equal(true);
      expect(await fresh.qsize()).to.equal(1);
    });

    it('quarantines a stray file whose name is not of the queue layout', async () => {
      const dir = dirs.make();
      const { logger, lines } = keepingLogger();
      const q = open(dir, logger);
      fs.writeFileSync(path.join(dir, 'ready', 'README'), 'not a job');
      const job = makeQueuedJob();
      await q.enqueue(job);
      expect((await q.claim({ max: 5, workerId: 'w', leaseMs: LEASE })).map((j) => j.id)).to.deep.equal([job.id]);
      expect(fs.readdirSync(path.join(dir, '.corrupt')).sort()).to.deep.equal(['README', 'README.reason']);
      expect(lines.filter((l) => l.level === 'warn')).to.have.length(1);
    });
  });

  describe('ids', () => {
    it('never uses an id as a raw path: "../", slashes and upper case are encoded, and the id comes back intact', async () => {
      const parent = dirs.make();
      const dir = path.join(parent, 'queue');
      const q = open(dir);
      const ids = ['../../escape', '..', 'a/b\\c', 'UPPER', 'x'.repeat(300), 'nul\u0000byte'];
      await q.enqueueMany(ids.map((id, n) => makeQueuedJob({ id, runAt: Date.now() - 1000 + n })));
      expect(fs.readdirSync(parent)).to.deep.equal(['queue']);
      for (const name of fs.readdirSync(path.join(dir, 'ready'))) expect(name).to.match(/-=[0-9a-f]{40}\.job$/);
      for (const name of fs.readdirSync(path.join(dir, 'ids'))) expect(name).to.match(/^=[0-9a-f]{40}$/);
      expect((await q.get('../../escape'))?.id).to.equal('../../escape');
      const claimed = await q.claim({ max: 10, workerId: '../worker/..', leaseMs: LEASE });
      expect(claimed.map((j) => j.id).sort()).to.deep.equal([...ids].sort());
      await q.ackMany(ids, '../worker/..');
      expect(await q.qsize()).to.equal(0);
    });

    it('refuses a duplicate id, and accepts it again once the job has left the queue', async () => {
      const q = open(dirs.make());
      const job = makeQueuedJob();
      await q.enqueue(job);
      const err = await q.enqueue({ ...job }).then(() => null, (e: unknown) => e);
      expect(isNuvomError(err, 'NUVOM_E_DUPLICATE_JOB')).to.equal(true);
      await q.claim({ max: 1, workerId: 'w', leaseMs: LEASE });
      await q.ack(job.id, 'w');
      await q.enqueue({ ...job });
      expect(await q.qsize()).to.equal(1);
    });

    it('clears an old id marker left by a crash, but not a fresh one', async () => {
      const dir = dirs.make();
      const q = open(dir);
      const job = makeQueuedJob({ id: 'crashed-job' });
      fs.writeFileSync(path.join(dir, 'ids', 'crashed-job'), '');
      const err = await q.enqueue(job).then(() => null, (e: unknown) => e);
      expect(isNuvomError(err, 'NUVOM_E_DUPLICATE_JOB'), 'a fresh marker may be an enqueue in flight').to.equal(true);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(path.join(dir, 'ids', 'crashed-job'), old, old);
      await q.enqueue(job);
      expect((await q.get(job.id))?.id).to.equal(job.id);
    });
  });

  describe('cancel and subscribe across instances', () => {
    it('signals a running job cancelled from another instance through the holder\'s renew', async () => {
      const dir = dirs.make();
      const worker = open(dir);
      const client = open(dir);
      const job = makeQueuedJob();
      await client.enqueue(job);
      await worker.claim({ max: 1, workerId: 'w', leaseMs: LEASE });
      expect(await client.cancel(job.id)).to.equal('signalled');
      expect(await worker.renew([job.id], 'w', LEASE)).to.deep.equal({ held: [job.id], cancelled: [job.id] });
      await worker.fail(job.id, 'w');
      expect(fs.readdirSync(path.join(dir, 'cancel'))).to.deep.equal([]);
      expect(await client.cancel(job.id)).to.equal('absent');
    });

    it('wakes a subscriber when another instance enqueues', async () => {
      const dir = dirs.make();
      const worker = open(dir);
      const producer = open(dir);
      let calls = 0;
      const unsubscribe = worker.subscribe(() => { calls += 1; });
      await producer.enqueue(makeQueuedJob());
      await until(() => calls > 0, 'onChange after another instance enqueued');
      unsubscribe();
      expect(await worker.claim({ max: 1, workerId: 'w', leaseMs: LEASE })).to.have.length(1);
    });
  });
});
