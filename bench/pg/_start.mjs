// node bench/pg/_start.mjs [n]: after `drain.mjs fill n`, a drain whose start is stamped: each
// connection, the first statements (node-postgres's Client patched), the job thread's online/ready
// messages, the first runs, every 500th success (a probe: private seams).
import pg from 'pg';
import { Worker } from 'node:worker_threads';
import { createClient } from '../../dist/sdk/index.js';
import { config } from './common.mjs';
import './tasks.mjs';
const N = Number(process.argv[2] ?? 10000);
const t0 = performance.now(); const ev = [];
const mark = (what) => ev.push(`${(performance.now() - t0).toFixed(1)} ${what}`);
const q = pg.Client.prototype.query;
let nq = 0;
pg.Client.prototype.query = function (text, ...rest) {
  const s = typeof text === 'string' ? text : text?.text ?? '';
  const k = ++nq; const w = s.trim().slice(0, 50).replace(/\s+/g, ' ');
  if (k < 40) mark(`q${k}> ${w}`);
  const r = q.call(this, text, ...rest);
  if (k < 40 && r?.then) r.then((x) => mark(`q${k}< rows=${x?.rowCount ?? (Array.isArray(x) ? x.length : '')}`), () => {});
  return r;
};
const cn = pg.Client.prototype.connect;
pg.Client.prototype.connect = function (...a) { mark('connect>'); const r = cn.apply(this, a); r?.then?.(() => mark('connect<')); return r; };
const em = Worker.prototype.emit; let nm = 0;
Worker.prototype.emit = function (ev, ...a) { if (ev === 'message' && nm++ < 3) mark(`thread msg ${a[0]?.t}`); if (ev === 'online') mark('thread online'); return em.call(this, ev, ...a); };
const pm = Worker.prototype.postMessage; let np = 0;
Worker.prototype.postMessage = function (m, ...a) { if (np++ < 2) mark(`to thread ${m?.t} n=${m?.ids?.length}`); return pm.call(this, m, ...a); };
const client = await createClient({ config: config('nuvom_probe_drain') });
mark('createClient done');
let done = 0; let all; const allDone = new Promise((r) => { all = r; });
let started = 0;
client.kernel.hooks.jobStarted?.tap('probe', () => { if (++started === 1) mark('first jobStarted'); });
client.kernel.hooks.jobSucceeded.tap('probe', () => { done++; if (done === 1 || done % 500 === 0) mark(`succeeded ${done}`); if (done === N) all(); });
const worker = await client.startWorker({ threads: 1, concurrency: 10 });
mark('startWorker done');
await allDone;
console.log(ev.join('\n'));
await worker.stop(); await client.close(); process.exit(0);
