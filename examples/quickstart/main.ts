/**
 * Quickstart: enqueue jobs, run a worker pool on the embedded SQLite default, print the results.
 * Run: npm run example
 */
import { createClient } from 'nuvom';
import { add, flaky } from './tasks.ts';

const nuvom = await createClient();
const worker = await nuvom.startWorker({ threads: 2 });

const sum = await add.delay(5, 7);
const [a, b] = await add.map([[1, 2], [3, 4]]);
const shout = await flaky.delay('hello');

console.log(`add(5, 7) = ${await sum.result({ timeoutSecs: 30 })}`);
console.log(`add(1, 2) = ${await a.result({ timeoutSecs: 30 })}, add(3, 4) = ${await b.result({ timeoutSecs: 30 })}`);
console.log(`flaky('hello') = ${await shout.result({ timeoutSecs: 30 })}`);
const rec = await nuvom.getJob(shout.id);
console.log(`job ${rec?.id}: status ${rec?.status} after ${rec?.attempts} attempts (stored in ${nuvom.config.sqlitePath})`);

await worker.stop();
await nuvom.close();
