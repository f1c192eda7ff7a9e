// node bench/pg/drain.mjs fill [n]   then   node bench/pg/drain.mjs run [n] [concurrency]
// fill: a fresh schema, a CHECKPOINT, then n jobs by map() (as the peer harness's prefill).
// run: a new process drains them with one worker thread and prints jobs/s, the worker process's CPU
// a job by thread (main, the job thread and V8's helpers), the server's CPU a job, and when the
// first and the 1,000th job ended (ms from createClient()) with the rate after the 1,000th: a
// drain's start-up against its steady part.
import { createClient } from '../../dist/sdk/index.js';
import { config, serverCpuMs, sql, threadCpuMs } from './common.mjs';
import { noop } from './tasks.mjs';

const [mode = 'run', n = '10000', c = '10'] = process.argv.slice(2);
const N = Number(n);
const schema = process.env.NUVOM_PROBE_SCHEMA ?? 'nuvom_probe_drain';
if (mode === 'fill') {
  await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, 'CHECKPOINT');
  const client = await createClient({ config: config(schema) });
  for (let i = 0; i < N; i += 1000) await noop.map(Array.from({ length: Math.min(1000, N - i) }, (_, k) => [{ seq: i + k }]));
  await client.close();
} else {
  const th0 = threadCpuMs(); const pg0 = serverCpuMs(); const r0 = process.resourceUsage(); const t0 = performance.now();
  const client = await createClient({ config: config(schema) });
  const tClient = performance.now();
  let done = 0; let all; const allDone = new Promise((r) => { all = r; });
  let tFirst = 0; let tThousand = 0;
  client.kernel.hooks.jobSucceeded.tap('probe', () => {
    if (++done === 1) tFirst = performance.now();
    if (done === 1000) tThousand = performance.now();
    if (done === N) all();
  });
  const worker = await client.startWorker({ threads: 1, concurrency: Number(c) });
  const tReady = performance.now();
  await allDone;
  const t1 = performance.now(); const r1 = process.resourceUsage(); const pg1 = serverCpuMs(); const th1 = threadCpuMs();
  await worker.stop(); await client.close();
  const perJob = (ms) => Number((ms * 1000 / N).toFixed(1));
  const threads = Object.fromEntries(Object.keys(th1).map((k) => [k, perJob(th1[k] - (th0[k] ?? 0))]).filter(([, v]) => v > 0));
  console.log(JSON.stringify({
    jobs_per_s: Math.round(N / ((t1 - t0) / 1000)), ms: Math.round(t1 - t0), createClient_ms: Math.round(tClient - t0), init_ms: Math.round(tReady - t0),
    process_cpu_us_job: perJob((r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000),
    server_cpu_us_job: perJob(pg1 - pg0), thread_cpu_us_job: threads,
    first_job_ms: Math.round(tFirst - t0), job_1000_ms: Math.round(tThousand - t0),
    after_1000_jobs_per_s: N > 1000 ? Math.round((N - 1000) / ((t1 - tThousand) / 1000)) : null,
  }));
}
process.exit(0);
