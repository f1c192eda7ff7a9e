/**
 * `nuvom doctor`: one line per check (`ok|warn|FAIL  <check>: <detail>`), `--json`, exit code 1 on any
 * FAIL; finds a corrupt or non-SQLite database, a journal mode other than WAL, expired leases and RUNNING
 * jobs of dead workers, records that can never finish (and marks them FAILED with --fix, so they can be
 * retried), quarantined job files, and a missing, corrupt or stale manifest. It never creates storage.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '../../sdk/index.ts';
import {
  STACK, cleanupTempProjects, enqueueMany, exited, killAll, nuvom, openClient, project, readEffects, runNuvom, waitFor,
} from './helpers.ts';

const TASKS = `
export const slow = task({ name: 'slow' }, async (ms) => { effect(); await sleep(ms); return ms; });
`;
const TASK_LIST = [{ name: 'slow' }];
const LINE = /^(ok  |warn|FAIL)  [a-z][\w-]*: \S/;

interface Check { check: string; level: 'ok' | 'warn' | 'FAIL'; detail: string; fix?: string; data?: Record<string, unknown> }

async function doctor(dir: string, args: string[] = [], env: Record<string, string> = {}, opts: { sequential?: boolean } = {}) {
  const run = (extra: string[]) => runNuvom(dir, ['doctor', ...extra], env, 60_000);
  // With --fix (or when the first run changes the file, as opening it in WAL mode does), the JSON
  // run comes after the text run and reports the state the text run left.
  const [text, json] = args.includes('--fix') || opts.sequential
    ? [await run(args), await run(['--json', ...args.filter((a) => a !== '--fix')])]
    : await Promise.all([run(args), run(['--json', ...args])]);
  expect(text.err + text.out, 'a stack trace').not.to.match(STACK);
  const report = JSON.parse(json.out) as { ok: boolean; checks: Check[] };
  const lines = text.out.trim().split('\n');
  for (const l of lines) expect(l).to.match(LINE);
  expect(json.code, 'same exit code with --json').to.equal(report.ok ? 0 : 1);
  const by = (name: string) => report.checks.find((c) => c.check === name);
  return { code: text.code, lines, line: (name: string) => lines.find((l) => l.slice(6).startsWith(`${name}:`)) ?? '', report, by };
}

function queueRows(dir: string, sql: string, ...params: unknown[]): unknown {
  const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
  try {
    return sql.trim().toUpperCase().startsWith('SELECT') ? db.prepare(sql).all(...params) : db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

describe('nuvom doctor', function () {
  this.timeout(120_000);
  const clients: Client[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(cleanupTempProjects);

  async function withJobs(n: number, env: Record<string, string> = {}, ms = 5) {
    const dir = project(TASKS, TASK_LIST);
    const c = await openClient(dir, env);
    clients.push(c);
    const ids = await enqueueMany(c, 'slow', Array.from({ length: n }, () => [ms]));
    return { dir, c, ids };
  }

  it('reports a healthy project as all ok, one line per check, and exits 0', async () => {
    const { dir } = await withJobs(5);
    expect((await runNuvom(dir, ['runworker', '--threads', '1', '--burst'])).code).to.equal(0);
    const d = await doctor(dir);
    expect(d.code).to.equal(0);
    expect(d.report.ok).to.equal(true);
    expect(d.report.checks.map((c) => c.check)).to.deep.equal(['config', 'sqlite-file', 'sqlite-integrity', 'sqlite-wal', 'sqlite-leases', 'stuck-jobs', 'orphaned-jobs', 'storage-space', 'storage-errors', 'manifest']);
    expect(d.report.checks.filter((c) => c.level !== 'ok')).to.deep.equal([]);
    expect(d.line('sqlite-integrity')).to.match(/^ok {4}sqlite-integrity: integrity_check ok; schema version 4/);
    expect(d.line('sqlite-wal')).to.match(/journal_mode=wal, WAL file/);
    expect(d.line('manifest')).to.match(/1 task\(s\), up to date/);
  });

  it('creates nothing in a fresh project and says the storage does not exist yet', async () => {
    const dir = project(TASKS, TASK_LIST);
    const d = await doctor(dir);
    expect(d.code).to.equal(0);
    expect(d.line('sqlite-file')).to.match(/^warn {2}sqlite-file: .*does not exist yet; fix: /);
    expect(existsSync(path.join(dir, '.nuvom/nuvom.db')), 'doctor created the database').to.equal(false);
  });

  it('FAILs on a file that is not a SQLite database, leaves it untouched, and skips the job checks', async () => {
    const dir = project(TASKS, TASK_LIST);
    const file = path.join(dir, '.nuvom/nuvom.db');
    writeFileSync(file, 'this is not a database, it is a grocery list\n'.repeat(200));
    const before = createHash('sha1').update(readFileSync(file)).digest('hex');
    const d = await doctor(dir);
    expect(d.code).to.equal(1);
    expect(d.line('sqlite-integrity')).to.match(/^FAIL {2}sqlite-integrity: .*is not a SQLite database.*; fix: .*move the file aside/);
    expect(d.by('stuck-jobs')!.detail).to.match(/skipped/);
    expect(createHash('sha1').update(readFileSync(file)).digest('hex')).to.equal(before);
  });

  it('FAILs integrity_check on a database with damaged pages', async () => {
    const { dir, c } = await withJobs(300);
    await c.close();
    clients.length = 0;
    const file = path.join(dir, '.nuvom/nuvom.db');
    expect(existsSync(`${file}-wal`), 'the last close checkpointed the WAL').to.equal(false);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 3); // page 4: inside the tables' b-trees
    closeSync(fd);
    const d = await doctor(dir);
    expect(d.code).to.equal(1);
    expect(d.by('sqlite-integrity')).to.include({ level: 'FAIL' });
    expect(d.by('sqlite-integrity')!.fix).to.match(/\.recover/);
  });

  it('warns when the database is not in WAL mode', async () => {
    const dir = project(TASKS, TASK_LIST);
    mkdirSync(path.join(dir, '.nuvom'), { recursive: true });
    const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
    db.exec('CREATE TABLE other (x)');
    db.close();
    const d = await doctor(dir, [], {}, { sequential: true });
    expect(d.line('sqlite-wal')).to.match(/^warn {2}sqlite-wal: journal_mode is delete, not wal; fix: /);
    expect(d.by('stuck-jobs')!.detail, 'no nuvom tables: nothing to open').to.match(/no nuvom tables/);
  });

  it('finds the RUNNING jobs of a SIGKILLed worker and their expired leases (warn: they will come back)', async () => {
    const env = { NUVOM_VISIBILITY_TIMEOUT_SECS: '1' };
    const { dir, ids } = await withJobs(2, env, 60_000);
    const w = nuvom(dir, ['runworker', '--threads', '2'], env);
    await waitFor(() => readEffects(dir).length >= 2, { timeoutMs: 30_000, what: 'both jobs to run' });
    w.child.kill('SIGKILL');
    await exited(w, 10_000, 'the worker');
    const leased = queueRows(dir, "SELECT lease_expires_at FROM nuvom_jobs WHERE state = 'leased'") as Array<{ lease_expires_at: number }>;
    expect(leased).to.have.length(2);
    await waitFor(() => leased.every((r) => r.lease_expires_at < Date.now()), { what: 'the leases to expire' });
    const d = await doctor(dir, [], env);
    expect(d.code, 'warnings only').to.equal(0);
    expect(d.line('stuck-jobs')).to.match(new RegExp(`^warn {2}stuck-jobs: 2 RUNNING job\\(s\\) belong to worker process\\(es\\) that are gone \\(pid ${w.pid}\\).*; fix: nothing is lost`));
    expect(d.by('stuck-jobs')!.data!.ids).to.have.members(ids);
    expect(d.line('sqlite-leases')).to.match(/^warn {2}sqlite-leases: 2 job\(s\) hold an expired lease/);
  });

  it('FAILs RUNNING and PENDING records whose jobs left the queue; --fix marks them FAILED so they can be retried', async () => {
    const { dir, c, ids } = await withJobs(4);
    const [stuck, orphan, young, fine] = ids;
    const rec = (await c.getJob(stuck))!;
    await c.kernel.resolve('resultStore').put({ ...rec, status: 'RUNNING', attempts: 1, startedAt: new Date(Date.now() - 120_000).toISOString(), workerId: 'elsewhere:1:abc' });
    for (const id of [stuck, orphan, young]) queueRows(dir, 'UPDATE nuvom_jobs SET state = NULL, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?', id);
    // `young` was created just now: under the default grace period it is not judged (an enqueue may be halfway).
    const youngRec = (await c.getJob(young))!;
    const oldRec = (await c.getJob(orphan))!;
    await c.kernel.resolve('resultStore').put({ ...oldRec, createdAt: new Date(Date.now() - 120_000).toISOString() });

    const d = await doctor(dir);
    expect(d.code).to.equal(1);
    expect(d.line('stuck-jobs')).to.match(new RegExp(`^FAIL {2}stuck-jobs: 1 job\\(s\\) are RUNNING but no longer in the queue.*${stuck}; fix: run \`nuvom doctor --fix\``));
    expect(d.line('orphaned-jobs')).to.match(new RegExp(`^FAIL {2}orphaned-jobs: 1 PENDING/RETRYING record\\(s\\) have no job in the queue.*${orphan}`));
    expect(d.by('orphaned-jobs')!.data).to.deep.include({ count: 1, ids: [orphan] });
    expect(youngRec.status).to.equal('PENDING');

    const fixed = await doctor(dir, ['--fix']);
    expect(fixed.code).to.equal(0);
    expect(fixed.line('stuck-jobs')).to.match(/^warn {2}stuck-jobs: marked 1 RUNNING job\(s\) that had left the queue FAILED/);
    for (const id of [stuck, orphan]) {
      const r = (await c.getJob(id))!;
      expect(r.status, id).to.equal('FAILED');
      expect(r.error!.message).to.match(/^lost: .*nuvom doctor --fix/);
    }
    expect((await c.getJob(young))!.status, 'the young record was left alone').to.equal('PENDING');
    expect((await c.getJob(fine))!.status).to.equal('PENDING');

    // Retried, they run.
    for (const id of [stuck, orphan]) await c.retryJob(id);
    expect((await runNuvom(dir, ['runworker', '--threads', '1', '--burst'])).code).to.equal(0);
    for (const id of [stuck, orphan, fine]) expect(await c.getJob(id), id).to.include({ status: 'SUCCESS' });
    const after = await doctor(dir, ['--grace-secs', '0']);
    expect(after.by('orphaned-jobs')).to.deep.include({ level: 'FAIL' }); // `young` still has no queued job
    expect(after.by('orphaned-jobs')!.data).to.deep.include({ ids: [young] });
  });

  it('reports a missing, a corrupt and a stale manifest, and says to run discovery', async () => {
    const { dir } = await withJobs(1);
    const manifest = path.join(dir, '.nuvom/manifest.json');
    const good = readFileSync(manifest);
    expect((await doctor(dir)).by('manifest')).to.include({ level: 'ok' });

    appendFileSync(path.join(dir, 'tasks.mjs'), '\n// edited\n');
    const stale = await doctor(dir);
    expect(stale.line('manifest')).to.match(/^warn {2}manifest: .* is stale: tasks\.mjs changed \(\d+ -> \d+ bytes\).*; fix: run `nuvom discover tasks`/);

    writeFileSync(manifest, good.subarray(0, 100));
    const corrupt = await doctor(dir);
    expect(corrupt.code).to.equal(1);
    expect(corrupt.line('manifest')).to.match(/^FAIL {2}manifest: .* cannot be used: .*not valid JSON.*; fix: run `nuvom discover tasks`/);

    rmSync(manifest);
    const missing = await doctor(dir);
    expect(missing.code).to.equal(0);
    expect(missing.line('manifest')).to.match(/^warn {2}manifest: no task manifest at .*; fix: run `nuvom discover tasks`/);
  });

  it('checks the file backend: permissions and quarantined job files', async () => {
    const env = { NUVOM_QUEUE_BACKEND: 'file', NUVOM_RESULT_BACKEND: 'file' };
    const { dir } = await withJobs(2, env);
    const ok = await doctor(dir, [], env);
    expect(ok.code).to.equal(0);
    expect(ok.report.checks.map((c) => c.check)).to.include.members(['file-queue', 'file-quarantine', 'file-results', 'stuck-jobs', 'orphaned-jobs']);
    expect(ok.line('file-queue')).to.match(/^ok {4}file-queue: .*: 2 waiting, 0 leased; permissions ok/);
    writeFileSync(path.join(dir, '.nuvom/queue/ready/garbage.job'), 'garbage');
    expect((await runNuvom(dir, ['runworker', '--threads', '1', '--burst'], env)).code).to.equal(0);
    const q = await doctor(dir, [], env);
    expect(q.line('file-quarantine')).to.match(/^warn {2}file-quarantine: 1 job file\(s\) were quarantined in .*\.corrupt.*; fix: read the \.reason file/);
    if (process.getuid?.() !== 0) {
      const { chmodSync } = await import('node:fs');
      chmodSync(path.join(dir, '.nuvom/queue/ready'), 0o500);
      try {
        const denied = await doctor(dir, [], env);
        expect(denied.code).to.equal(1);
        expect(denied.line('file-queue')).to.match(/^FAIL {2}file-queue: not readable, writable and searchable: ready\//);
      } finally {
        chmodSync(path.join(dir, '.nuvom/queue/ready'), 0o755);
      }
    }
  });

  it('refuses a bad --grace-secs as a usage error', async () => {
    const dir = project(TASKS, TASK_LIST);
    const r = await runNuvom(dir, ['doctor', '--grace-secs', '-5']);
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/--grace-secs must be a number >= 0/);
  });
});
