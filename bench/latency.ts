/**
 * Pickup latency on the SQLite backend, with an idle worker waiting (threads 1, concurrency 1,
 * default batch size; its thread already started and the task module loaded). One worker process
 * serves both runs, the cross-process one first:
 *   latency cross-process  a second process enqueues (the worker learns of the job through the
 *                          SQLite change notifier: fs.watch plus PRAGMA data_version);
 *   latency same-process   then the worker's own process enqueues (woken in-process).
 * The producer enqueues `bench.stamp` jobs one at a time, open loop: each delay() is awaited, then a
 * seeded uniform 10-30 ms pause (the peers' method). Latency = when the task body started (it returns
 * process.hrtime, CLOCK_MONOTONIC, shared by all processes) minus when the delay() call started.
 * The note adds "pickup" (the jobStarted hook, when the pool handed the job to its thread) and the
 * p50 measured from when delay() returned.
 * Must never: busy-wait in the producer (it would steal the worker's core).
 */
import { stamp } from './tasks.ts';
import {
  benchClient, channel, Child, monoMs, percentile, prng, removeDir, row, sleep, tempDir, type Scale, type TableRow,
} from './common.ts';

interface Sample { id: string; call: number; ret: number; start: number; pickup?: number }

/** Enqueues `jobs` stamp jobs open loop, then collects when each started. */
async function produce(jobs: number, seed: number): Promise<Sample[]> {
  const rand = prng(seed);
  const sent: Array<{ id: string; call: number; ret: number; result: () => Promise<number> }> = [];
  for (let i = 0; i < jobs; i++) {
    const call = monoMs();
    const h = await stamp.delay();
    const ret = monoMs();
    sent.push({ id: h.id, call, ret, result: () => h.result({ timeoutSecs: 60 }) });
    await sleep(10 + 20 * rand());
  }
  const out: Sample[] = [];
  for (const s of sent) out.push({ id: s.id, call: s.call, ret: s.ret, start: await s.result() });
  return out;
}

/**
 * Child side: an idle worker. It first serves the cross-process run (the parent calls `pickups`
 * once the producer process is done), then enqueues the same-process run itself and returns it.
 */
export async function latencyWorkerMain(s: { dir: string; jobs: number; seed: number }): Promise<Sample[]> {
  const client = await benchClient(s.dir, 'sqlite');
  const pickups = new Map<string, number>();
  client.kernel.hooks.jobStarted.tap('bench-latency', (e) => { pickups.set(e.jobId, monoMs()); });
  const w = await client.startWorker({ threads: 1, concurrency: 1 });
  try {
    for (let i = 0; i < 3; i++) await (await stamp.delay()).result({ timeoutSecs: 60 });
    await sleep(300);
    await channel.ready();
    await channel.serve({ pickups: (ids) => (ids as string[]).map((id) => pickups.get(id) ?? null) });
    await sleep(300);
    const samples = await produce(s.jobs, s.seed + 1);
    return samples.map((x) => ({ ...x, pickup: pickups.get(x.id) }));
  } finally {
    await w.stop();
    await client.close();
  }
}

/** Child side: the second process that enqueues, once the parent says `go`. */
export async function latencyProducerMain(s: { dir: string; jobs: number; seed: number }): Promise<Sample[]> {
  const client = await benchClient(s.dir, 'sqlite');
  try {
    await channel.ready();
    let samples: Sample[] = [];
    await channel.serve({ go: async () => { samples = await produce(s.jobs, s.seed); return samples.length; } });
    return samples;
  } finally {
    await client.close();
  }
}

function latencyRows(mode: string, samples: Sample[], targets: boolean): TableRow[] {
  const fromCall = samples.map((x) => x.start - x.call);
  const fromRet = samples.map((x) => x.start - x.ret);
  const pickup = samples.filter((x) => typeof x.pickup === 'number').map((x) => x.pickup! - x.call);
  const n = samples.length;
  const p = (q: number) => percentile(fromCall, q);
  const note = `pickup p50 ${percentile(pickup, 50).toFixed(2)} ms, p50 from return ${percentile(fromRet, 50).toFixed(2)} ms, max ${Math.max(...fromCall).toFixed(1)} ms`;
  const rows = [
    row(`latency ${mode} p50`, 'sqlite', 'ms', p(50), null, { n, note }),
    row(`latency ${mode} p95`, 'sqlite', 'ms', p(95), null, { n }),
    row(`latency ${mode} p99`, 'sqlite', 'ms', p(99), null, { n }),
  ];
  if (targets) {
    rows[0].target = { text: '<= 2 ms', met: rows[0].value <= 2 };
    rows[2].target = { text: '<= 20 ms', met: rows[2].value <= 20 };
  }
  return rows;
}

/** Parent side: one worker process for both runs, cross-process first; the producer boots meanwhile. */
export async function runLatency(scale: Scale): Promise<TableRow[]> {
  const seed = 42;
  const dir = tempDir('latency');
  const worker = new Child({ kind: 'latency-worker', dir, jobs: scale.latencyJobs, seed });
  const producer = new Child({ kind: 'latency-producer', dir, jobs: scale.latencyJobs, seed });
  try {
    await Promise.all([worker.whenReady(), producer.whenReady()]);
    await producer.call('go');
    const cross = await producer.finish<Sample[]>();
    const picks = await worker.call<Array<number | null>>('pickups', cross.map((x) => x.id));
    cross.forEach((x, i) => { if (picks[i] !== null) x.pickup = picks[i]!; });
    const same = await worker.finish<Sample[]>();
    return [...latencyRows('same-process', same, false), ...latencyRows('cross-process', cross, true)];
  } finally {
    worker.kill();
    producer.kill();
    removeDir(dir);
  }
}
