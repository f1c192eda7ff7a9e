// node bench/pg/latency.mjs [m]: one worker process (this one: one thread, concurrency 1) and a
// producer process sending m jobs 10-30 ms apart, as the peer harness's latency phase does. Prints
// the median time of each stage in ms from the delay() call, node-postgres's round trip per kind of
// statement (Query submit to ReadyForQuery), and the worker process's CPU a job by thread.
// The stages are read through private seams (the job store's prototype, node-postgres's Query, the
// Worker class): a probe, not an API.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { createClient } from '../../dist/sdk/index.js';
import { config, median, sql, threadCpuMs } from './common.mjs';

process.env.NUVOM_PROBE_LATENCY = '1'; // before tasks.mjs loads, here and in the thread
const { ping } = await import('./tasks.mjs');
const M = Number(process.argv[2] ?? 200);
const schema = process.env.NUVOM_PROBE_SCHEMA ?? 'nuvom_probe_latency';
const now = () => performance.timeOrigin + performance.now();

if (process.argv[3] === 'producer') {
  const client = await createClient({ config: config(schema) });
  await client.getJob('warm-up');
  const sent = [];
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  for (let i = 0; i < M; i++) {
    const t = now();
    const h = await ping.delay({ seq: i });
    sent.push({ seq: i, id: h.id, call: t, returned: now() });
    await new Promise((r) => setTimeout(r, 10 + 20 * rnd()));
  }
  await client.close();
  process.send(sent);
  process.exit(0);
}

await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
const client = await createClient({ config: config(schema) });
await client.getJob('warm-up');
const at = new Map();
const stamp = (id, stage) => { let s = at.get(id); if (!s) at.set(id, (s = {})); s[stage] ??= now(); };
const ran = new Map();
const ch = new BroadcastChannel('nuvom-probe');
ch.onmessage = (e) => ran.set(e.data[0], e.data[1]);
client.kernel.hooks.jobClaimed.tap('probe', (e) => stamp(e.jobId, 'claimed'));
client.kernel.hooks.jobStarted.tap('probe', (e) => stamp(e.jobId, 'started'));
let read = 0; let allRead; const everyRead = new Promise((r) => { allRead = r; });
client.kernel.hooks.jobSucceeded.tap('probe', (e) => {
  stamp(e.jobId, 'jobSucceeded');
  void (async () => { // the harness's completion: the record reads SUCCESS
    while ((await client.getJob(e.jobId))?.status !== 'SUCCESS');
    stamp(e.jobId, 'read');
    if (++read === M) allRead();
  })();
});
const store = Object.getPrototypeOf(client.kernel.container.resolve('jobStore'));
const claim = store.claim;
store.claim = async function (o) { const t = now(); const jobs = await claim.call(this, o); for (const j of jobs) { stamp(j.id, 'claimCall'); at.get(j.id).claimCall = t; stamp(j.id, 'claimDone'); } return jobs; };
const settle = store.settle;
store.settle = async function (w, outcomes) { for (const o of outcomes) stamp(o.id, 'settleCall'); const r = await settle.call(this, w, outcomes); for (const o of outcomes) stamp(o.id, 'settleDone'); return r; };
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (m, ...rest) { if (m?.t === 'run') for (const id of m.ids) stamp(id, 'sentToThread'); return post.call(this, m, ...rest); };
const emit = Worker.prototype.emit;
Worker.prototype.emit = function (ev, m, ...rest) { if (ev === 'message' && m?.t === 'done') for (const id of m.ids) stamp(id, 'outcomeInMain'); return emit.call(this, ev, m, ...rest); };
const Query = createRequire(new URL('../../package.json', import.meta.url)).call(null, 'pg/lib/query.js');
const roundTrips = new Map();
const submit = Query.prototype.submit;
Query.prototype.submit = function (con) { this.probeT0 = now(); return submit.call(this, con); };
const ready = Query.prototype.handleReadyForQuery;
Query.prototype.handleReadyForQuery = function (con) {
  const kind = String(this.text).replace(/\s+/g, ' ').replace(/"[^"]*"\./g, '').slice(0, 40);
  let xs = roundTrips.get(kind); if (!xs) roundTrips.set(kind, (xs = []));
  xs.push(now() - this.probeT0);
  return ready.call(this, con);
};

const worker = await client.startWorker({ threads: 1, concurrency: 1 });
await new Promise((r) => setTimeout(r, 300));
const th0 = threadCpuMs();
const producer = fork(new URL(import.meta.url).pathname, [String(M), 'producer'], { stdio: 'inherit' });
const sent = await new Promise((r) => producer.once('message', r));
await everyRead;
const th1 = threadCpuMs();
await worker.stop(); await client.close(); ch.close();

const stages = ['returned', 'claimCall', 'claimDone', 'claimed', 'started', 'sentToThread', 'ran', 'outcomeInMain', 'settleCall', 'settleDone', 'jobSucceeded', 'read'];
const cols = Object.fromEntries(stages.map((s) => [s, []]));
for (const j of sent) {
  const s = { ...at.get(j.id), returned: j.returned, ran: ran.get(j.seq) };
  for (const k of stages) if (s[k] !== undefined) cols[k].push(s[k] - j.call);
}
console.log('stage medians, ms from the delay() call:');
console.log(stages.map((k) => `  ${k} ${cols[k].length ? median(cols[k]).toFixed(2) : '-'}`).join('\n'));
console.log('node-postgres round trips (submit to ReadyForQuery), median ms:');
for (const [kind, xs] of roundTrips) if (xs.length >= M / 2) console.log(`  ${median(xs).toFixed(3)}  x${xs.length}  ${kind}`);
console.log('worker process CPU a job, ms by thread:', JSON.stringify(Object.fromEntries(Object.keys(th1).map((k) => [k, Number(((th1[k] - (th0[k] ?? 0)) / M).toFixed(2))]).filter(([, v]) => v > 0))));
process.exit(0);
