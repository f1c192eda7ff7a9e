// node bench/pg/drain.mjs fill 30000   then   node bench/pg/stop.mjs [threads] [concurrency] [runMs]
// Starts a worker on the filled schema, lets it run runMs (default 600), then times stop(): the
// drain, the give-back of the jobs claimed ahead, the threads' end. Prints the ms and what the
// queue holds after it (no job may stay leased).
import { createClient } from '../../dist/sdk/index.js';
import { config } from './common.mjs';
import './tasks.mjs';

const [threads = '2', concurrency = '10', runMs = '600'] = process.argv.slice(2);
const schema = process.env.NUVOM_PROBE_SCHEMA ?? 'nuvom_probe_drain';
const client = await createClient({ config: config(schema) });
const worker = await client.startWorker({ threads: Number(threads), concurrency: Number(concurrency) });
await new Promise((r) => setTimeout(r, Number(runMs)));
const t0 = performance.now();
await worker.stop();
const stopMs = Math.round(performance.now() - t0);
const counts = await client.kernel.resolve('queue').counts();
console.log(JSON.stringify({ stop_ms: stopMs, ...counts }));
await client.close();
process.exit(0);
