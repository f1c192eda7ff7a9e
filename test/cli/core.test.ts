import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { REPO_ROOT } from '../helpers/tmp.ts';
import { cleanupTempProjects, failedWith, json, killAll, nuvom, project, type Project } from './helpers.ts';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('cli: the other commands keep the same output discipline', function () {
  this.timeout(60_000);
  let p: Project;

  before(async () => {
    p = project();
    const r = await nuvom(p, ['discover', 'tasks']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^\+ add +\(tasks\.mjs:2\)$/m);
  });
  after(() => { killAll(); cleanupTempProjects(); });

  it('no command prints the help on stderr, exit 2; --help prints it on stdout, exit 0', async () => {
    const [bare, help] = await Promise.all([nuvom(p, []), nuvom(p, ['--help'])]);
    expect(bare.code).to.equal(2);
    expect(bare.stdout).to.equal('');
    expect(bare.stderr).to.include('Usage: nuvom');
    expect(help.code).to.equal(0);
    for (const c of ['runworker', 'enqueue', 'status', 'inspect', 'history', 'retry', 'cancel', 'stats', 'discover', 'list', 'config', 'version']) {
      expect(help.stdout).to.match(new RegExp(`^ {2}${c}\\b`, 'm'));
    }
  });

  it('docs/cli.md has a section for every command `nuvom --help` lists', async () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/cli.md'), 'utf8');
    const help = (await nuvom(p, ['--help'])).stdout;
    const commands = [...help.split('Commands:')[1].matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands.length).to.be.greaterThan(10);
    expect(commands.filter((c) => !new RegExp(`^### nuvom ${c}\\b`, 'm').test(doc))).to.deep.equal([]);
  });

  it('help with an unknown command says so (exit 2) instead of printing the whole help', async () => {
    failedWith(await nuvom(p, ['help', 'nope']), 2, 'error: unknown command "nope"; `nuvom --help` lists the commands (NUVOM_E_USAGE)');
    const known = await nuvom(p, ['help', 'stats']);
    expect([known.code, known.stdout.split('\n')[0]]).to.deep.equal([0, 'Usage: nuvom stats [options]']);
  });

  it('version prints the version alone', async () => {
    const r = await nuvom(p, ['version']);
    expect(r).to.deep.include({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('config --json, plugin status --json, list tasks --json and schedule list --json print JSON only', async () => {
    // schedule list only reads: give it a database to read (a missing one is NUVOM_E_NO_DATABASE).
    const q = project();
    const burst = await nuvom(q, ['runworker', '--burst']);
    expect(burst.code, burst.stderr).to.equal(0);
    const [config, plugins, tasks, schedules] = await Promise.all([
      json<{ cwd: string; settings: Record<string, { value: unknown; source: string }> }>(p, ['config', '--json']),
      json<Array<{ name: string; state: string }>>(p, ['plugin', 'status', '--json']),
      json<Array<{ name: string }>>(p, ['list', 'tasks', '--json']),
      json<unknown[]>(q, ['schedule', 'list', '--json']),
    ]);
    expect(config.settings.sqlitePath).to.include({ value: p.env.NUVOM_SQLITE_PATH, source: 'env' });
    expect(plugins.find((x) => x.name === 'nuvom-cli-ops')).to.include({ state: 'started' });
    expect(tasks.map((t) => t.name)).to.have.members(['add', 'boom', 'slow']);
    expect(schedules).to.deep.equal([]);
  });

  it('doctor and schedule list only read: the database a first enqueue made gets no table from them', async () => {
    const q = project();
    expect((await nuvom(q, ['discover', 'tasks'])).code).to.equal(0);
    expect((await nuvom(q, ['enqueue', 'add', '1', '2'])).code).to.equal(0);
    const tables = () => {
      const db = new Database(q.env.NUVOM_SQLITE_PATH, { readonly: true });
      try { return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(); } finally { db.close(); }
    };
    const before = tables();
    expect(before).to.include('nuvom_jobs');
    await nuvom(q, ['doctor']);
    expect((await nuvom(q, ['schedule', 'list'])).code).to.equal(0);
    expect(tables()).to.deep.equal(before);
  });

  it('warns that a job enqueued or read through the memory backend lives in that command\'s process only', async () => {
    const q = project();
    expect((await nuvom(q, ['discover', 'tasks'])).code).to.equal(0);
    const mem = { NUVOM_QUEUE_BACKEND: 'memory', NUVOM_RESULT_BACKEND: 'memory' };
    const enq = await nuvom(q, ['enqueue', 'add', '1', '2'], mem);
    expect(enq.code, enq.stderr).to.equal(0);
    expect(enq.stderr).to.match(/WARN +the queue backend keeps its data inside this process \(memory\): `nuvom enqueue` enqueues a job that nothing else sees and that is gone when this command exits; choose a backend processes share/);
    const recent = await nuvom(q, ['history', 'recent'], mem);
    expect(recent.stderr).to.contain('`nuvom history recent` sees only what this command itself did');
  });

  it('runworker exits 1 when the worker stops itself on an error (its threads cannot start), saying why once', async () => {
    const q = project();
    expect((await nuvom(q, ['discover', 'tasks'])).code).to.equal(0);
    const enq = await nuvom(q, ['enqueue', 'add', '1', '2']);
    expect(enq.code, enq.stderr).to.equal(0);
    for (const args of [['--burst'], []]) {
      const r = await nuvom(q, ['runworker', '--threads', '1', '--memory-limit-mb', '1', ...args]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr.match(/3 worker threads in a row ended before they started/g)).to.have.length(1);
      expect(r.stderr).to.include('NUVOM_E_WORKER_CRASHED');
    }
  });

  it('config shows where a setting came from but never a password in it (NUVOM_POSTGRES_URL), in the table and in --json', async () => {
    const url = 'postgres://app:s3cret-pw@db.internal:5432/app';
    const table = await nuvom(p, ['config'], { NUVOM_POSTGRES_URL: url });
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/^postgresUrl +postgres:\/\/app:\*+@db\.internal:5432\/app +env \(NUVOM_POSTGRES_URL\)$/m);
    const withUrl = await nuvom(p, ['config', '--json'], { NUVOM_POSTGRES_URL: url });
    expect(JSON.parse(withUrl.stdout).settings.postgresUrl).to.include({ source: 'env', origin: 'NUVOM_POSTGRES_URL' });
    for (const out of [table.stdout, withUrl.stdout]) expect(out).not.to.contain('s3cret-pw');
    // A user without a password is the role, as the connection errors show it: kept.
    const role = await nuvom(p, ['config'], { NUVOM_POSTGRES_URL: 'postgres://app@db.internal:5432/app' });
    expect(role.stdout).to.match(/^postgresUrl +postgres:\/\/app@db\.internal:5432\/app /m);
  });

  it('enqueue prints the new id; status prints one line about it', async () => {
    const e = await nuvom(p, ['enqueue', 'add', '2', '3']);
    expect(e.code, e.stderr).to.equal(0);
    const id = e.stdout.trim();
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    const s = await nuvom(p, ['status', id]);
    expect(s).to.deep.include({ code: 0, stdout: `${id} add PENDING attempts=0\n`, stderr: '' });
  });

  it("enqueue: a malformed ARG_JSON is a usage error with the parser's message and position", async () => {
    failedWith(await nuvom(p, ['enqueue', 'add', '1', '{x']), 2, /^error: argument 2 is not valid JSON \(.* at position 1\): \{x\. /);
  });

  it('enqueue: an unknown task lists the known ones, exit 1', async () => {
    failedWith(await nuvom(p, ['enqueue', 'nope']), 1, 'unknown task "nope"; known tasks: add, boom, slow');
  });

  it('status of an unknown job is one line, exit 1', async () => {
    failedWith(await nuvom(p, ['status', 'no-such-job']), 1, 'no job with id "no-such-job" (NUVOM_E_JOB_NOT_FOUND)');
  });

  it('runtestworker run prints the result on stdout and runs nothing through the queue', async () => {
    writeFileSync(path.join(p.dir, 'job.json'), '{ "taskName": "add", "args": [20, 22] }');
    const r = await nuvom(p, ['runtestworker', 'run', 'job.json', '--task-module', 'tasks.mjs']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('42\n');
  });
});
