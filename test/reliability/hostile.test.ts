/**
 * Hostile input: the readers of every stored format get random, truncated and bit-flipped bytes
 * (SQLite rows, .nuvom_plugins.toml, the task manifest, file-queue job files, runtestworker job JSON)
 * and the CLI gets random arguments. The answer is a clear error or a quarantine: never a stack trace,
 * never a dead worker, never a lost healthy job. Job ids never become paths; SQL takes input as data.
 * Fuzzers use a seeded PRNG (NUVOM_FUZZ_SEED replays a run); NUVOM_LONG runs many more cases.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '../../sdk/index.ts';
import { createLogger, isNuvomError, loadConfig } from '../../sdk/plugin.ts';
import { parsePluginsToml } from '../../kernel/config/load.ts';
import registryPlugin, { Registry } from '../../builtin-plugins/registry/index.ts';
import { loadManifest } from '../../builtin-plugins/discovery/manifest.ts';
import { FileQueue } from '../../builtin-plugins/file/queue.ts';
import { formatName, keyOfId, nextSeq } from '../../builtin-plugins/file/names.ts';
import {
  FUZZ_SEED, LONG, STACK, allRecords, cleanupTempProjects, enqueueMany, killAll, mutate, openClient, pick, prng,
  project, runNuvom,
} from './helpers.ts';

const TASKS = `
export const slow = task({ name: 'slow' }, async (ms) => { effect(); await sleep(typeof ms === 'number' ? Math.min(ms, 50) : 0); return ms; });
`;
const TASK_LIST = [{ name: 'slow' }];
const FILE_ENV = { NUVOM_QUEUE_BACKEND: 'file', NUVOM_RESULT_BACKEND: 'file' };

/** Runs `fn` over `items`, `width` at a time (child processes on 2 cores). */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

function expectCleanCliFailure(r: { code: number | null; out: string; err: string }, what: string): void {
  expect([0, 1, 2], `${what}: exit code (stderr: ${r.err.slice(0, 500)})`).to.include(r.code);
  expect(r.err + r.out, `${what}: printed a stack trace`).not.to.match(STACK);
  expect(r.err, `${what}: uncaught`).not.to.match(/Uncaught|UnhandledPromiseRejection|triggerUncaughtException/);
}

describe('reliability: hostile input', function () {
  this.timeout(LONG ? 900_000 : 120_000);
  const clients: Client[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(cleanupTempProjects);

  async function client(dir: string, env: Record<string, string> = {}): Promise<Client> {
    const c = await openClient(dir, env);
    clients.push(c);
    return c;
  }

  describe('SQLite rows', () => {
    function corrupt(dir: string, column: 'args' | 'options' | 'meta', ids: string[], value: (i: number) => Buffer | string): void {
      const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
      try {
        const stmt = db.prepare(`UPDATE nuvom_jobs SET ${column} = ? WHERE id = ?`);
        ids.forEach((id, i) => stmt.run(value(i), id));
      } finally {
        db.close();
      }
    }

    it('fails a job whose stored arguments are garbage with a clear error, and runs the others', async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir);
      const ids = await enqueueMany(c, 'slow', Array.from({ length: 12 }, (_, i) => [i]));
      const rnd = prng(FUZZ_SEED);
      const serializer = c.kernel.resolve('serializer');
      const valid = Buffer.from(serializer.encode([7]));
      const bad = ids.slice(0, 6);
      const blobs = bad.map((_, i) => (i === 0 ? Buffer.from([0xc1]) : mutate(rnd, valid).bytes));
      corrupt(dir, 'args', bad, (i) => blobs[i]);
      const r = await runNuvom(dir, ['runworker', '--threads', '2', '--burst'], {}, 60_000);
      expect(r.code, r.err).to.equal(0);
      for (const [i, id] of bad.entries()) {
        let decodes = false;
        try { decodes = Array.isArray(serializer.decode(blobs[i])); } catch { /* garbage */ }
        if (decodes) {
          expect(['SUCCESS', 'FAILED'], `job ${id}`).to.include((await c.getJob(id))!.status);
          continue;
        }
        // One row per job: the record's arguments are the queued bytes, so reading the record says
        // they are garbage (naming the job) while the row itself is FAILED with the reason.
        const read = await c.getJob(id).catch((e: unknown) => e);
        expect(isNuvomError(read, 'NUVOM_E_DESERIALIZE') && (read as Error).message.includes(id), `job ${id}: ${String(read)}`).to.equal(true);
        const db = new Database(path.join(dir, '.nuvom/nuvom.db'), { readonly: true });
        try {
          const row = db.prepare('SELECT status, error FROM nuvom_jobs WHERE id = ?').get(id) as { status: string; error: string };
          expect(row.status, `job ${id} (args ${blobs[i].toString('hex')})`).to.equal('FAILED');
          expect(JSON.parse(row.error).message).to.match(/could not decode the job's arguments|stored arguments are not a list/);
        } finally {
          db.close();
        }
      }
      for (const id of ids.slice(6)) expect(await c.getJob(id), `healthy job ${id}`).to.include({ status: 'SUCCESS' });
      expect(await c.kernel.resolve('queue').qsize()).to.equal(0);
    });

    it('fails (or sets aside) a job whose stored options or meta are not JSON, and the worker keeps running the others', async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir);
      const ids = await enqueueMany(c, 'slow', Array.from({ length: 6 }, (_, i) => [i]));
      corrupt(dir, 'options', [ids[0]], () => '{"maxRetries": 0, "timeo');
      corrupt(dir, 'meta', [ids[1]], () => 'not json');
      const r = await runNuvom(dir, ['runworker', '--threads', '1', '--burst'], {}, 60_000);
      expect(r.code, r.err).to.equal(0);
      expect(r.err).not.to.match(/worker loop stopped/);
      for (const id of ids.slice(2)) expect(await c.getJob(id), `healthy job ${id}`).to.include({ status: 'SUCCESS' });
      for (const id of ids.slice(0, 2)) expect(await c.getJob(id), `corrupt job ${id}`).to.include({ status: 'FAILED' });
    });

    it('reports a record whose stored result is garbage with an error naming the job, not a stack trace', async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir);
      const [id] = await enqueueMany(c, 'slow', [[1]]);
      const db = new Database(path.join(dir, '.nuvom/nuvom.db'));
      try {
        db.prepare("UPDATE nuvom_jobs SET status = 'SUCCESS', result = x'c1c1' WHERE id = ?").run(id);
      } finally {
        db.close();
      }
      const r = await runNuvom(dir, ['status', id]);
      expect(r.code).to.equal(1);
      expect(r.err).to.include(id).and.to.include('NUVOM_E_DESERIALIZE');
      expect(r.err).not.to.match(STACK);
    });

    it('takes quotes and SQL in task names, ids and filters as data', async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir);
      const evil = ["x'); DROP TABLE nuvom_jobs; --", 'a" OR "1"="1', "' OR 1=1 --", '%', '_'];
      for (const name of evil) await c.enqueue(name, [1]);
      // A NUL (any control character) in a task name is refused before it is stored (14.9).
      const nul = await c.enqueue('ro\u0000bert', [1]).catch((e: unknown) => e);
      expect(isNuvomError(nul, 'NUVOM_E_TASK_INVALID'), 'a NUL in a task name is refused').to.equal(true);
      const ok = await c.enqueue('slow', [1]);
      const quoted = await c.kernel.resolve('jobs').enqueue([{ taskName: 'slow', taskOptions: {}, call: { args: [1], id: "it's" } }]).catch((e: unknown) => e);
      expect(isNuvomError(quoted, 'NUVOM_E_TASK_INVALID'), 'an id with a quote is refused').to.equal(true);
      for (const name of evil) expect(await c.listJobs({ task: name }), name).to.have.length(1);
      expect(await c.listJobs({ task: "' OR '1'='1" })).to.have.length(0);
      const r = await runNuvom(dir, ['runworker', '--threads', '1', '--burst'], {}, 60_000);
      expect(r.code, r.err).to.equal(0);
      expect(await c.getJob(ok.id)).to.include({ status: 'SUCCESS' });
      // The hostile names are simply unknown tasks: FAILED with that reason, tables intact.
      for (const name of evil) expect((await c.listJobs({ task: name }))[0]).to.include({ status: 'FAILED' });
      expect(await c.kernel.resolve('queue').qsize()).to.equal(0);
    });
  });

  describe('.nuvom_plugins.toml', () => {
    const VALID = Buffer.from(`[plugins]
queue_backend = ["./plugins/my-queue.ts:MyQueuePlugin"]
monitoring = ["nuvom/plugins/prometheus"]

[settings.my_queue]
path = "/var/lib/q"
retries = 3
ratio = 0.5
enabled = true
when = 2024-01-01T00:00:00Z
tags = ["a", "b"]
nested = { a = 1, b = [1, 2] }
`);

    it(`parses ${LONG ? 20_000 : 400} mutated files into a result or NUVOM_E_CONFIG_FILE with line and column`, () => {
      const rnd = prng(FUZZ_SEED + 1);
      let syntaxErrors = 0;
      for (let i = 0; i < (LONG ? 20_000 : 400); i++) {
        const { how, bytes } = mutate(rnd, VALID);
        const label = `case ${i} (${how}; seed ${FUZZ_SEED + 1})`;
        try {
          const parsed = parsePluginsToml(bytes.toString('utf8'), '/p/.nuvom_plugins.toml');
          for (const specs of Object.values(parsed.plugins)) expect(specs.every((s) => typeof s === 'string'), label).to.equal(true);
          JSON.stringify(parsed);
        } catch (err) {
          expect(isNuvomError(err, 'NUVOM_E_CONFIG_FILE'), `${label}: ${String(err)}`).to.equal(true);
          const m = (err as Error).message;
          expect(m, label).to.match(/^\/p\/\.nuvom_plugins\.toml/);
          if (/invalid TOML/.test(m) && (err as { details?: { line?: number } }).details?.line !== undefined) {
            expect(m, label).to.match(/^\/p\/\.nuvom_plugins\.toml:\d+:\d+: invalid TOML: /);
            syntaxErrors++;
          }
        }
      }
      expect(syntaxErrors, 'the fuzzer reached the parser\'s error path').to.be.greaterThan(10);
    });

    it('makes the CLI print one clear line with the position, never a stack trace', async () => {
      const dir = project(TASKS, TASK_LIST);
      const cases = ['[plugins\nqueue_backend = ["x"]\n', 'x = = 1\n', VALID.subarray(0, 60).toString(), '[plugins]\nqueue_backend = 5\n'];
      await inParallel(cases.map((text, i) => ({ text, i })), 2, async ({ text, i }) => {
        const sub = path.join(dir, `case-${i}`);
        mkdirSync(sub, { recursive: true });
        writeFileSync(path.join(sub, '.nuvom_plugins.toml'), text);
        const r = await runNuvom(sub, ['config']);
        expect(r.code, `case ${i}`).to.equal(1);
        expect(r.err, `case ${i}`).to.match(/^error: .*\.nuvom_plugins\.toml(:\d+:\d+: invalid TOML|: plugins\.)/);
        expect(r.err.trim().split('\n'), `case ${i}: one line`).to.have.length(1);
        expect(r.err).not.to.match(STACK);
      });
    });
  });

  describe('the task manifest', () => {
    it(`reads ${LONG ? 5000 : 300} mutated manifests into tasks or NUVOM_E_MANIFEST, never another error`, async () => {
      const dir = project(TASKS, TASK_LIST);
      const file = path.join(dir, '.nuvom/manifest.json');
      const valid = readFileSync(file);
      // The registry's setting (manifestPath) is its plugin's since plugin-owned settings (16).
      const config = await loadConfig({ cwd: dir, env: {}, plugins: [registryPlugin] });
      const logger = createLogger({ level: 'silent' });
      const rnd = prng(FUZZ_SEED + 2);
      for (let i = 0; i < (LONG ? 5000 : 300); i++) {
        const { how, bytes } = mutate(rnd, valid);
        const label = `case ${i} (${how}; seed ${FUZZ_SEED + 2})`;
        writeFileSync(file, bytes);
        for (const [reader, read] of [['registry', () => new Registry(config, logger).get('slow')], ['discovery', () => loadManifest(file)]] as const) {
          try {
            read();
          } catch (err) {
            expect(isNuvomError(err, 'NUVOM_E_MANIFEST'), `${reader}, ${label}: ${String(err)}`).to.equal(true);
            expect((err as Error).message, label).to.include('nuvom discover tasks');
          }
        }
      }
    });

    it('refuses a manifest whose "root" or task fields have the wrong type with NUVOM_E_MANIFEST', async () => {
      const dir = project(TASKS, TASK_LIST);
      const file = path.join(dir, '.nuvom/manifest.json');
      // The registry's setting (manifestPath) is its plugin's since plugin-owned settings (16).
      const config = await loadConfig({ cwd: dir, env: {}, plugins: [registryPlugin] });
      const read = () => new Registry(config, createLogger({ level: 'silent' })).get('slow');
      for (const doc of [{ root: 5, tasks: [] }, { root: {}, tasks: [{ name: 'slow', file: 'tasks.mjs' }] }]) {
        writeFileSync(file, JSON.stringify(doc));
        const err = (() => { try { read(); return null; } catch (e) { return e; } })();
        expect(isNuvomError(err, 'NUVOM_E_MANIFEST'), `${JSON.stringify(doc)}: ${String(err)}`).to.equal(true);
      }
      // A task field of the wrong type is refused or ignored, never passed on as it is.
      writeFileSync(file, JSON.stringify({ tasks: [{ name: 'slow', file: 'tasks.mjs', export: 5 }] }));
      const ref = (() => { try { return read(); } catch (e) { expect(isNuvomError(e, 'NUVOM_E_MANIFEST')).to.equal(true); return null; } })();
      if (ref) expect(ref.exportName).to.equal(null);
    });

    it('gives the CLI a clear error for a corrupt manifest, and a worker rebuilds it and runs the job', async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir);
      const [id] = await enqueueMany(c, 'slow', [[1]]);
      writeFileSync(path.join(dir, '.nuvom/manifest.json'), '{"version": 1, "tasks": [');
      const e = await runNuvom(dir, ['enqueue', 'slow', '1']);
      expect(e.code).to.equal(1);
      expect(e.err).to.match(/^error: .*manifest\.json is not valid JSON.*nuvom discover tasks.*NUVOM_E_MANIFEST/);
      expect(e.err).not.to.match(STACK);
      const w = await runNuvom(dir, ['runworker', '--threads', '1', '--burst'], {}, 60_000);
      expect(w.code, w.err).to.equal(0);
      expect(w.err).to.match(/rebuilding it/);
      expect(await c.getJob(id)).to.include({ status: 'SUCCESS' });
    });
  });

  describe('CLI arguments', () => {
    // Never runworker/runscheduler (they run until signalled), discover (walks a root), or plugin scaffold/test
    // (write files, import modules): those have tests of their own.
    const COMMANDS = [['version'], ['config'], ['config', '--json'], ['status'], ['enqueue'], ['enqueue', 'slow'], ['list', 'tasks'],
      ['runtestworker', 'run'], ['doctor'], ['doctor', '--json'], ['help'], ['plugin', 'status'], ['schedule', 'list'], ['schedule', 'cancel']];
    const WORDS = ['version', 'config', 'status', 'enqueue', 'list', 'tasks', 'runtestworker', 'run', 'doctor', 'help', 'plugin', 'status',
      'schedule', 'cancel', 'job', 'inspect', 'history', 'slow', '--json', '--fix', '--grace-secs', '--priority', '--delay-secs', '--log-level',
      '--threads', '--help', '-h', '-V', '--', '-', '--=', '---', '--json=1', '1', '-1', '0', 'NaN', '1e309', '{"a":', '[]', '"x"', '../../etc/passwd',
      'ümlaut', '💥', '$(id)', '`id`', "'", '"', '%s%n', 'a'.repeat(300), ' ', ''];

    it(`never prints a stack trace for ${LONG ? 200 : 12} random command lines; exit code 0, 1 or 2`, async function () {
      // 200 CLI processes, two at a time: at several seconds each on a loaded machine, past 15 minutes.
      this.timeout(LONG ? 3_600_000 : 120_000);
      const dir = project(TASKS, TASK_LIST);
      const rnd = prng(FUZZ_SEED + 3);
      const junk = () => Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => 1 + Math.floor(rnd() * 254))).toString('latin1');
      const lines = Array.from({ length: LONG ? 200 : 12 }, () => {
        // Mostly a real command first, so the fuzz gets past "unknown command" into the commands' own parsing.
        const first = rnd() < 0.85 ? pick(rnd, COMMANDS) : [pick(rnd, WORDS)];
        return [...first, ...Array.from({ length: Math.floor(rnd() * 4) }, () => (rnd() < 0.75 ? pick(rnd, WORDS) : junk()))];
      });
      await inParallel(lines, 2, async (argv) => {
        const r = await runNuvom(dir, argv, {}, 30_000);
        expectCleanCliFailure(r, `nuvom ${JSON.stringify(argv)} (seed ${FUZZ_SEED + 3})`);
      });
    });

    it('refuses bad worker flags as usage errors (exit 2) with the flag named', async () => {
      const dir = project(TASKS, TASK_LIST);
      const cases = [['--threads', '-1'], ['--threads', '0', '--dev'], ['--threads', 'many'], ['--concurrency', '-3'], ['--drain-secs', '1.5'], ['--memory-limit-mb', '1e309'], ['--batch-size']];
      await inParallel(cases, 2, async (flags) => {
        const r = await runNuvom(dir, ['runworker', ...flags, '--burst']);
        expect(r.code, `${flags.join(' ')}: ${r.err}`).to.equal(2);
        expect(r.err).to.include(flags[0]);
        expect(r.err).not.to.match(STACK);
      });
    });
  });

  describe('runtestworker job files', () => {
    it(`answers ${LONG ? 60 : 4} mutated job files with a result or a clear error`, async () => {
      const dir = project(TASKS, TASK_LIST);
      const valid = Buffer.from('{ "taskName": "slow", "args": [1], "timeoutSecs": 5 }');
      const rnd = prng(FUZZ_SEED + 4);
      const cases = Array.from({ length: LONG ? 60 : 4 }, (_, i) => ({ i, ...mutate(rnd, valid) }));
      await inParallel(cases, 2, async ({ i, how, bytes }) => {
        const file = path.join(dir, `job-${i}.json`);
        writeFileSync(file, bytes);
        const r = await runNuvom(dir, ['runtestworker', 'run', file, '--task-module', 'tasks.mjs']);
        expectCleanCliFailure(r, `case ${i} (${how}; seed ${FUZZ_SEED + 4})`);
      });
    });
  });

  describe('file queue job files', () => {
    it(`quarantines ${LONG ? 100 : 12} corrupt job files and stray files with a reason, and runs every healthy job`, async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir, FILE_ENV);
      const healthy = await enqueueMany(c, 'slow', Array.from({ length: 5 }, (_, i) => [i]));
      const readyDir = path.join(dir, '.nuvom/queue/ready');
      const valid = readFileSync(path.join(readyDir, readdirSync(readyDir)[0]));
      const rnd = prng(FUZZ_SEED + 5);
      const n = LONG ? 100 : 12;
      for (let i = 0; i < n; i++) {
        const name = formatName({ priority: Math.floor(rnd() * 3), runAt: Date.now() - 1000, seq: nextSeq(), attempts: 0, key: `fuzz-${i}` });
        writeFileSync(path.join(readyDir, name), mutate(rnd, valid).bytes);
      }
      const strays = ['notes.txt', 'ready.job', '0-0-0-0-x.job'];
      for (const s of strays) writeFileSync(path.join(readyDir, s), 'stray');

      const r = await runNuvom(dir, ['runworker', '--threads', '2', '--burst'], FILE_ENV, 60_000);
      expect(r.code, r.err).to.equal(0);
      expect(r.err).to.match(/quarantined/);
      for (const id of healthy) expect(await c.getJob(id), `healthy job ${id}`).to.include({ status: 'SUCCESS' });
      const corrupt = readdirSync(path.join(dir, '.nuvom/queue/.corrupt'));
      expect(corrupt.filter((f) => !f.endsWith('.reason')), 'quarantined files').to.have.length(n + strays.length);
      expect(corrupt.filter((f) => f.endsWith('.reason')), 'reason files').to.have.length(n + strays.length);
      expect(readdirSync(readyDir)).to.deep.equal([]);
      expect(readdirSync(path.join(dir, '.nuvom/queue/leased'))).to.deep.equal([]);
    });

    it('never uses a job id as a path: ids with "../", slashes and dots stay inside the queue and round-trip', async () => {
      const dir = project(TASKS, TASK_LIST);
      const c = await client(dir, FILE_ENV);
      const queueDir = path.join(dir, '.nuvom/queue');
      // Through the API (its id rule allows dots and colons, not dots alone) ...
      const apiIds = ['.hidden', 'a..b', '..:..', 'CON', 'UPPER-case'];
      const dotsOnly = await c.kernel.resolve('jobs').enqueue([{ taskName: 'slow', taskOptions: {}, call: { args: [1], id: '..' } }]).catch((e: Error) => e);
      expect((dotsOnly as Error).message).to.contain('not dots alone');
      await c.kernel.resolve('jobs').enqueue(apiIds.map((id) => ({ taskName: 'slow', taskOptions: {}, call: { args: [1], id } })));
      // ... and straight into the queue, past the API's rule, as a plugin could.
      const rawIds = ['..', '...', '.', '../../escape', '../../../tmp/escape', '/etc/passwd-x', 'a/b/c', '..\\..\\escape', `${'x'.repeat(300)}/..`, '💥/../..', 'ready/../../x'];
      const q = new FileQueue(queueDir, createLogger({ level: 'silent' }));
      const args = c.kernel.resolve('serializer').encode([1]);
      const now = Date.now();
      const opts = { maxRetries: 0, retryDelaySecs: 1, backoff: 'fixed' as const, timeoutSecs: 30, timeoutPolicy: 'retry' as const, storeResult: true, tags: [] };
      await q.enqueueMany(rawIds.map((id) => ({ id, taskName: 'slow', args, priority: 0, runAt: now, attempts: 0, createdAt: now, options: opts, meta: {} })));
      for (const id of rawIds) expect((await q.get(id))?.id, id).to.equal(id);
      await q.close();

      const names = ['ready', 'ids'].flatMap((d) => readdirSync(path.join(queueDir, d)));
      for (const id of [...apiIds, ...rawIds]) {
        expect(names.some((nm) => nm.includes(id) && id.length > 3 && !/^[a-z0-9_-]+$/.test(id)), `raw id ${id} in a file name`).to.equal(false);
        if (!/^[a-z0-9_-]{1,64}$/.test(id)) expect(keyOfId(id).startsWith('='), id).to.equal(true);
      }
      expect(existsSync(path.join(dir, 'escape'))).to.equal(false);
      expect(existsSync(path.join(dir, '.nuvom/escape'))).to.equal(false);
      expect(existsSync('/etc/passwd-x')).to.equal(false);

      const r = await runNuvom(dir, ['runworker', '--threads', '2', '--burst'], FILE_ENV, 60_000);
      expect(r.code, r.err).to.equal(0);
      const records = await allRecords(c);
      for (const id of [...apiIds, ...rawIds]) expect(records.find((x) => x.id === id), `job ${id}`).to.include({ status: 'SUCCESS' });
      expect(existsSync(path.join(dir, 'escape'))).to.equal(false);
    });
  });
});

