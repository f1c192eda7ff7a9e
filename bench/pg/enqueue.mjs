// node bench/pg/enqueue.mjs [n]: n delay() calls one after another from a fresh process, on a fresh
// schema; prints calls/s, the client's CPU a call (user, system) and the server's.
import { createClient } from '../../dist/sdk/index.js';
import { config, serverCpuMs, sql } from './common.mjs';
import { noop } from './tasks.mjs';

const N = Number(process.argv[2] ?? 10000);
const schema = process.env.NUVOM_PROBE_SCHEMA ?? 'nuvom_probe_enqueue';
await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
const client = await createClient({ config: config(schema) });
await client.getJob('warm-up'); // connected and migrated before the clock starts, as the harness's producer
await sql('CHECKPOINT');
const r0 = process.resourceUsage(); const pg0 = serverCpuMs(); const t0 = performance.now();
for (let i = 0; i < N; i++) await noop.delay({ seq: i });
const t1 = performance.now(); const r1 = process.resourceUsage(); const pg1 = serverCpuMs();
await client.close();
const us = (x) => Number((x / N).toFixed(1));
console.log(JSON.stringify({
  calls_per_s: Math.round(N / ((t1 - t0) / 1000)), us_a_call: us((t1 - t0) * 1000),
  client_user_us: us(r1.userCPUTime - r0.userCPUTime), client_system_us: us(r1.systemCPUTime - r0.systemCPUTime), server_us: us((pg1 - pg0) * 1000),
}));
