import { Session } from 'node:inspector/promises';
import fs from 'node:fs';
import { createClient } from '../../dist/sdk/index.js';
import { config } from './common.mjs';
import './tasks.mjs';
const N = Number(process.argv[2] ?? 30000);
const client = await createClient({ config: config('nuvom_probe_drain') });
const s = new Session(); s.connect();
await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 100 });
let done = 0; let all; const allDone = new Promise((r) => { all = r; });
let t0, t1;
client.kernel.hooks.jobSucceeded.tap('probe', () => {
  done++;
  if (done === 5000) { t0 = performance.now(); void s.post('Profiler.start'); }
  if (done === N - 5000) { t1 = performance.now(); void s.post('Profiler.stop').then(({ profile }) => { fs.writeFileSync('/tmp/steady.cpuprofile', JSON.stringify(profile)); }); }
  if (done === N) all();
});
const worker = await client.startWorker({ threads: 1, concurrency: 10 });
await allDone;
console.log('steady jobs/s', Math.round((N - 10000) / ((t1 - t0) / 1000)));
await new Promise((r) => setTimeout(r, 200));
await worker.stop(); await client.close(); process.exit(0);
