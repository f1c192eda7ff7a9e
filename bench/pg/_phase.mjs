// node bench/pg/_phase.mjs [n]: after `drain.mjs fill n`, a drain under the inspector's CPU profiler;
// writes /tmp/phase.cpuprofile and the marks (first job, 3,000th, 7,000th, n-10,000th, last) to
// /tmp/phase.json, to compare a window of cold jobs with one of warm jobs (a probe).
import { Session } from 'node:inspector/promises';
import fs from 'node:fs';
import { createClient } from '../../dist/sdk/index.js';
import { config } from './common.mjs';
import './tasks.mjs';
const N = Number(process.argv[2] ?? 10000);
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.setSamplingInterval', { interval: 50 }); await s.post('Profiler.start');
const us = () => Number(process.hrtime.bigint() / 1000n);
const marks = { t0: us() };
const client = await createClient({ config: config('nuvom_probe_drain') });
marks.client = us();
let done = 0; let all; const allDone = new Promise((r) => { all = r; });
client.kernel.hooks.jobSucceeded.tap('probe', () => { done++; if (done === 1) marks.first = us(); if (done === 3000) marks.j3000 = us(); if (done === 7000) marks.j7000 = us(); if (done === N - 10000) marks.late = us(); if (done === N) { marks.end = us(); all(); } });
const worker = await client.startWorker({ threads: 1, concurrency: 10 });
marks.started = us();
await allDone;
const { profile } = await s.post('Profiler.stop');
fs.writeFileSync('/tmp/phase.cpuprofile', JSON.stringify(profile));
fs.writeFileSync('/tmp/phase.json', JSON.stringify(marks));
await worker.stop(); await client.close(); process.exit(0);
