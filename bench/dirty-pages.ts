/**
 * WAL frames (dirty pages committed) per job on the default SQLite setup: N single delay() calls, one
 * map() of N, and one worker draining N jobs, each counted from a truncated WAL with autocheckpoint off.
 *   node --import tsx bench/dirty-pages.ts [n]   (from the repository root; not part of npm run bench)
 * Compares schemas: run it in two checkouts. Must never: be asserted on in a test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const n = Number(process.argv[2] ?? 2000);
// The worker threads import the task's module: bench/tasks.ts, not this script.
const { createClient } = await import(path.join(root, 'sdk/index.ts'));
const { acquireDb } = await import(path.join(root, 'builtin-plugins/sqlite/db.ts'));
const { noop } = await import(path.join(root, 'bench/tasks.ts'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nuvom-dirty-'));
const file = path.join(dir, 'nuvom.db');
const client = await createClient({ cwd: dir, env: {}, config: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'memory', sqlitePath: file } });
await noop.delay();
const lease = acquireDb(file, 'queue');
lease.db.pragma('wal_autocheckpoint = 0');
const pageSize = lease.db.pragma('page_size', { simple: true }) as number;
const frames = () => (fs.statSync(`${file}-wal`).size - 32) / (pageSize + 24);
const reset = () => { lease.db.pragma('wal_checkpoint(TRUNCATE)'); };
const out: Record<string, number> = {};
reset();
for (let i = 0; i < n; i++) await noop.delay();
out.delayFramesPerJob = frames() / n;
reset();
await noop.map(Array.from({ length: n }, () => []));
out.mapFramesPerJob = frames() / n;
reset();
const w = await client.startWorker({ threads: 1, concurrency: 10, batchSize: 100, burst: true });
await w.done;
out.processFramesPerJob = frames() / (2 * n + 1);
out.fileBytesPerJob = fs.statSync(file).size / (2 * n + 1);
lease.release();
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ root, n, ...out }));
