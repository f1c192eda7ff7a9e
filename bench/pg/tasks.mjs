// Tasks of the PostgreSQL probes (imported by URL in the worker thread too). `ping` reports the
// moment its body runs on a BroadcastChannel (latency.mjs).
import { task } from '../../dist/sdk/index.js';

const ch = process.env.NUVOM_PROBE_LATENCY === '1' ? new BroadcastChannel('nuvom-probe') : null;
export const noop = task({ name: 'noop', retries: 0 }, async () => {});
export const ping = task({ name: 'ping', retries: 0 }, async (d) => { ch?.postMessage([d.seq, performance.timeOrigin + performance.now()]); });
