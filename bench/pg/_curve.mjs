// node bench/pg/_curve.mjs [n]: after `node bench/pg/drain.mjs fill n`, drains with one thread x 10 and
// prints, every 1,000 jobs, the ms since the process's clock start and the process CPU ms (a probe).
import { createClient } from '../../dist/sdk/index.js';
import { config } from './common.mjs';
import './tasks.mjs';
const N = Number(process.argv[2] ?? 10000);
const t0 = performance.now(); const c0 = process.cpuUsage();
const client = await createClient({ config: config('nuvom_probe_drain') });
const tc = performance.now();
let done = 0; let all; const allDone = new Promise((r) => { all = r; });
const marks = [];
client.kernel.hooks.jobSucceeded.tap('probe', () => {
  done++;
  if (done % 1000 === 0) { const u = process.cpuUsage(c0); marks.push([done, Math.round(performance.now() - t0), Math.round((u.user + u.system) / 1000)]); }
  if (done === N) all();
});
const worker = await client.startWorker({ threads: 1, concurrency: 10 });
const tw = performance.now();
await allDone;
console.log('createClient', Math.round(tc - t0), 'startWorker', Math.round(tw - tc));
console.log(marks.map(([d, t, c]) => `${d}:${t}ms/${c}cpu`).join(' '));
await worker.stop(); await client.close(); process.exit(0);
