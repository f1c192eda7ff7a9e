/**
 * The physical limits nuvom is compared with, measured in the same run (each in its own child process):
 *
 *   SQLite: raw better-sqlite3 on a WAL file with synchronous=NORMAL (as the SQLite backend opens it),
 *   one connection, a tight loop, no queue library. The method and schema are those of
 *   shared/bench-peers/sqlite-ceiling.mjs, which measured the reference figures in peer-bench.md:
 *     insert_1        single-row INSERT, one transaction per row (autocommit)
 *     insert_100      100 rows per transaction
 *     insert_N        all N rows in one transaction (what one map() of N jobs could cost at best)
 *     claim_done_1    claim one row (UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING) in one
 *                     transaction, mark it done in a second
 *     claim_done_100  claim 100 in one transaction, mark those 100 done in the next
 *   CPU: the bench.cpu loop run in bare worker_threads (no queue), threads already started: what
 *   the CPU-bound process rows could reach (cpuRate, measured by process.ts in the same process).
 * Must never: share a file or a process with a nuvom measurement.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { inChild, median, perSec, removeDir, row, tempDir, type Scale, type TableRow } from './common.ts';

export interface SqliteCeiling {
  insert_1: number;
  insert_100: number;
  insert_N: number;
  claim_done_1: number;
  claim_done_100: number;
}

const BATCH = 100;

function freshDb(dir: string, name: string): Database.Database {
  const db = new Database(path.join(dir, `${name}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`
    CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      queue TEXT NOT NULL,
      payload TEXT NOT NULL,
      state INTEGER NOT NULL DEFAULT 0,   -- 0 ready, 1 running, 2 done
      run_at INTEGER NOT NULL,
      locked_at INTEGER,
      done_at INTEGER
    );
    CREATE INDEX jobs_ready ON jobs (queue, run_at, id) WHERE state = 0;
  `);
  return db;
}

function prefill(db: Database.Database, n: number): void {
  const ins = db.prepare('INSERT INTO jobs (queue, payload, run_at) VALUES (?, ?, ?)');
  const tx = db.transaction((k0: number, k1: number) => { for (let i = k0; i < k1; i++) ins.run('q', `{"seq":${i}}`, 0); });
  for (let i = 0; i < n; i += 10000) tx(i, Math.min(n, i + 10000));
  db.pragma('wal_checkpoint(TRUNCATE)');
}

function insertRate(dir: string, name: string, n: number, perTx: number): number {
  const db = freshDb(dir, name);
  const ins = db.prepare('INSERT INTO jobs (queue, payload, run_at) VALUES (?, ?, ?)');
  let ms: number;
  if (perTx === 1) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) ins.run('q', `{"seq":${i}}`, Date.now());
    ms = performance.now() - t0;
  } else {
    const many = db.transaction((k0: number, k1: number) => { const now = Date.now(); for (let i = k0; i < k1; i++) ins.run('q', `{"seq":${i}}`, now); });
    const t0 = performance.now();
    for (let i = 0; i < n; i += perTx) many.immediate(i, Math.min(n, i + perTx));
    ms = performance.now() - t0;
  }
  db.close();
  return perSec(n, ms);
}

function claimDoneRate(dir: string, name: string, n: number, perTx: number): number {
  const db = freshDb(dir, name);
  prefill(db, n);
  let k = 0;
  let ms: number;
  if (perTx === 1) {
    const claim1 = db.prepare(`UPDATE jobs SET state = 1, locked_at = @now
      WHERE id = (SELECT id FROM jobs WHERE queue = @queue AND state = 0 AND run_at <= @now ORDER BY run_at, id LIMIT 1)
      RETURNING id, payload`);
    const done1 = db.prepare('UPDATE jobs SET state = 2, done_at = ? WHERE id = ?');
    const t0 = performance.now();
    for (;;) {
      const r = claim1.get({ now: Date.now(), queue: 'q' }) as { id: number } | undefined;
      if (!r) break;
      done1.run(Date.now(), r.id);
      k++;
    }
    ms = performance.now() - t0;
  } else {
    const claimB = db.prepare(`UPDATE jobs SET state = 1, locked_at = @now
      WHERE id IN (SELECT id FROM jobs WHERE queue = @queue AND state = 0 AND run_at <= @now ORDER BY run_at, id LIMIT @lim)
      RETURNING id, payload`);
    const claimTx = db.transaction(() => claimB.all({ now: Date.now(), queue: 'q', lim: perTx }) as Array<{ id: number }>);
    const doneB = db.prepare('UPDATE jobs SET state = 2, done_at = ? WHERE id = ?');
    const doneTx = db.transaction((rows: Array<{ id: number }>) => { const now = Date.now(); for (const r of rows) doneB.run(now, r.id); });
    const t0 = performance.now();
    for (;;) {
      const rows = claimTx.immediate();
      if (!rows.length) break;
      doneTx.immediate(rows);
      k += rows.length;
    }
    ms = performance.now() - t0;
  }
  db.close();
  if (k !== n) throw new Error(`ceiling: claimed ${k} of ${n}`);
  return perSec(n, ms);
}

/** Child side: `runs` rounds of the five SQLite measures on fresh files; medians. */
export function sqliteCeilingMain(s: { n: number; nInsertN: number; runs: number }): SqliteCeiling & { runs: SqliteCeiling[]; sqliteVersion: string } {
  const dir = tempDir('ceiling');
  try {
    const runs: SqliteCeiling[] = [];
    for (let r = 0; r < s.runs; r++) {
      runs.push({
        insert_1: insertRate(dir, `i1-${r}`, s.n, 1),
        insert_100: insertRate(dir, `i100-${r}`, s.n, BATCH),
        insert_N: insertRate(dir, `iN-${r}`, s.nInsertN, s.nInsertN),
        claim_done_1: claimDoneRate(dir, `c1-${r}`, s.n, 1),
        claim_done_100: claimDoneRate(dir, `c100-${r}`, s.n, BATCH),
      });
    }
    const med = (k: keyof SqliteCeiling) => median(runs.map((x) => x[k]));
    const version = (new Database(':memory:').prepare('select sqlite_version() v').get() as { v: string }).v;
    return { insert_1: med('insert_1'), insert_100: med('insert_100'), insert_N: med('insert_N'), claim_done_1: med('claim_done_1'), claim_done_100: med('claim_done_100'), runs, sqliteVersion: version };
  } finally {
    removeDir(dir);
  }
}

// Must stay the same loop as bench/tasks.ts `cpu`.
const CPU_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const loop = (iterations) => { let x = 0; for (let i = 0; i < iterations; i++) x = (x * 31 + i) | 0; return x; };
parentPort.on('message', (jobs) => { let s = 0; for (let j = 0; j < jobs; j++) s ^= loop(workerData); parentPort.postMessage(s); });
parentPort.postMessage('ready');
`;

/**
 * `jobs` loops of `iterations` split over `threads` bare worker threads (started first); jobs/s.
 * process.ts measures it in the same process right before nuvom runs the same loop, so that both
 * see the same machine load.
 */
export async function cpuRate(threads: number, jobs: number, iterations: number): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(CPU_THREAD, { eval: true, workerData: iterations }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const t0 = performance.now();
  await Promise.all(workers.map((w, i) => new Promise((r) => {
    w.once('message', r);
    w.postMessage(Math.floor(jobs / threads) + (i < jobs % threads ? 1 : 0));
  })));
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  return perSec(jobs, ms);
}

export interface Ceilings {
  sqlite: SqliteCeiling;
}

/** Parent side: measures every ceiling, each in a fresh process; returns the values and their rows. */
export async function runCeilings(scale: Scale): Promise<{ ceilings: Ceilings; rows: TableRow[] }> {
  const sq = await inChild<SqliteCeiling & { sqliteVersion: string }>({ kind: 'ceiling-sqlite', n: scale.ceilingN, nInsertN: scale.n, runs: scale.ceilingRuns });
  const note = `SQLite ${sq.sqliteVersion}, median of ${scale.ceilingRuns}`;
  const n = scale.ceilingN;
  const rows = [
    row('ceiling insert 1/tx', 'sqlite-raw', 'rows/s', sq.insert_1, null, { n, note }),
    row('ceiling insert 100/tx', 'sqlite-raw', 'rows/s', sq.insert_100, null, { n, note }),
    row('ceiling insert N/tx', 'sqlite-raw', 'rows/s', sq.insert_N, null, { n: scale.n, note: `all ${scale.n} rows in one transaction` }),
    row('ceiling claim+done 1/tx', 'sqlite-raw', 'jobs/s', sq.claim_done_1, null, { n, note }),
    row('ceiling claim+done 100/tx', 'sqlite-raw', 'jobs/s', sq.claim_done_100, null, { n, note }),
  ];
  return { ceilings: { sqlite: sq }, rows };
}
