/** The file result store: JSON lines shared by processes, a crash-tolerant tail, and rewrites by purge. */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { FileResultStore } from '../../builtin-plugins/file/index.ts';
import type { JobRecord } from '../../sdk/plugin.ts';
import { makeJobRecord } from '../../sdk/testing/index.ts';
import { json, keepingLogger, startFixture, tempDirs, type Child } from './helpers.ts';

describe('file result store', () => {
  const dirs = tempDirs('nuvom-file-results-');
  const opened: FileResultStore[] = [];
  const children: Child[] = [];

  function open(dir: string, logger = keepingLogger().logger): FileResultStore {
    const store = new FileResultStore(dir, json, logger);
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    for (const s of opened.splice(0)) await s.close();
    dirs.cleanup();
  });

  const success = (o: Partial<JobRecord> = {}): JobRecord => makeJobRecord({
    status: 'SUCCESS', attempts: 1, args: [1, { two: [3] }], result: { total: 42, list: ['a', null] },
    startedAt: new Date().toISOString(), completedAt: new Date().toISOString(), workerId: 'w0', ...o,
  });

  it('round-trips a record and keeps it as one JSON line with base64 user values', async () => {
    const dir = dirs.make();
    const store = open(dir);
    const record = success();
    await store.put(structuredClone(record));
    expect(await store.getFull(record.id)).to.deep.equal(record);
    const lines = fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').split('\n');
    expect(lines).to.have.length(2);
    expect(lines[1]).to.equal('');
    const line = JSON.parse(lines[0]);
    expect(line).to.include({ v: 1, op: 'put', s: 'json' });
    expect(Buffer.from(line.rec.args, 'base64').toString()).to.equal(JSON.stringify(record.args));
    expect(line.rec.error).to.equal(null);
  });

  it('lets a second instance on the same directory see the first one\'s appends as they happen', async () => {
    const dir = dirs.make();
    const writer = open(dir);
    const reader = open(dir);
    const pending = makeJobRecord({ taskName: 'shared' });
    await writer.put(pending);
    expect(await reader.getFull(pending.id)).to.deep.equal(pending);
    const done = success({ id: pending.id, taskName: 'shared', createdAt: pending.createdAt });
    await writer.put(structuredClone(done));
    expect(await reader.getFull(pending.id)).to.deep.equal(done);
    const more = Array.from({ length: 5 }, () => makeJobRecord({ taskName: 'shared' }));
    await writer.putMany(more);
    expect((await reader.listJobs({ task: 'shared', limit: 100 })).length).to.equal(6);
    expect((await reader.stats(0)).byStatus).to.include({ SUCCESS: 1, PENDING: 5 });
    // And the other way round.
    const back = makeJobRecord();
    await reader.put(back);
    expect(await writer.getFull(back.id)).to.deep.equal(back);
  });

  it('skips a truncated last line (a crash mid-append) with a warning, and appends after it safely', async () => {
    const dir = dirs.make();
    const first = open(dir);
    const a = success();
    const b = makeJobRecord();
    await first.putMany([structuredClone(a), structuredClone(b)]);
    await first.close();
    const file = path.join(dir, 'results.jsonl');
    const whole = fs.readFileSync(file, 'utf8');
    fs.appendFileSync(file, whole.split('\n')[0].slice(0, 57)); // half a line, no newline

    const { logger, lines } = keepingLogger();
    const reopened = open(dir, logger);
    expect(lines.some((l) => l.level === 'warn' && /incomplete/.test(l.msg))).to.equal(true);
    expect(await reopened.getFull(a.id)).to.deep.equal(a);
    expect(await reopened.getFull(b.id)).to.deep.equal(b);

    const c = success();
    await reopened.put(structuredClone(c));
    expect(await reopened.getFull(c.id)).to.deep.equal(c);
    // A fresh reader sees all three; the half line is skipped as unreadable, not fatal.
    const { logger: l2, lines: lines2 } = keepingLogger();
    const fresh = open(dir, l2);
    for (const r of [a, b, c]) expect(await fresh.getFull(r.id)).to.deep.equal(r);
    expect(lines2.filter((l) => l.level === 'warn').map((l) => l.msg)).to.deep.equal(['file result store: skipped an unreadable line']);
    expect((await fresh.listJobs()).length).to.equal(3);
  });

  it('purges by rewriting the file, copying unreadable lines to .corrupt, and other instances follow', async () => {
    const dir = dirs.make();
    const a = open(dir);
    const b = open(dir);
    const old = success({ completedAt: new Date(Date.now() - 86_400_000).toISOString(), createdAt: new Date(Date.now() - 86_400_001).toISOString() });
    const recent = success();
    await a.putMany([structuredClone(old), structuredClone(recent)]);
    fs.appendFileSync(path.join(dir, 'results.jsonl'), '{"garbage":\n');
    expect(await b.getFull(old.id)).to.deep.equal(old); // b has indexed the old file

    expect(await b.purge({ olderThan: Date.now() - 3_600_000 })).to.equal(1);
    expect(await a.getFull(old.id)).to.equal(null);
    expect(await a.getFull(recent.id)).to.deep.equal(recent);
    expect(fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n')).to.have.length(1);
    const corrupt = fs.readdirSync(path.join(dir, '.corrupt'));
    expect(corrupt).to.have.length(2);
    const kept = corrupt.find((n) => n.endsWith('.jsonl'))!;
    expect(fs.readFileSync(path.join(dir, '.corrupt', kept), 'utf8')).to.equal('{"garbage":\n');
    expect(fs.readFileSync(path.join(dir, '.corrupt', `${kept}.reason`), 'utf8')).to.match(/not JSON/);

    // a still holds the replaced file open: its next append must land in the new one.
    const after = makeJobRecord();
    await a.put(after);
    expect(await b.getFull(after.id)).to.deep.equal(after);
    expect((await open(dir).listJobs()).map((r) => r.id).sort()).to.deep.equal([recent.id, after.id].sort());
  });

  it('compacts to the latest line of each record', async () => {
    const dir = dirs.make();
    const store = open(dir);
    const r = makeJobRecord();
    await store.put(r);
    await store.put({ ...r, status: 'RUNNING', attempts: 1 });
    const last = success({ id: r.id, createdAt: r.createdAt });
    await store.put(structuredClone(last));
    await store.compact();
    expect(fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n')).to.have.length(1);
    expect(await store.getFull(r.id)).to.deep.equal(last);
  });

  it('loses no record when two processes append at once', async function () {
    this.timeout(60_000);
    const dir = dirs.make();
    const writers = [startFixture(['put', dir, 'p1', '200']), startFixture(['put', dir, 'p2', '200'])];
    children.push(...writers);
    await Promise.all(writers.map((w) => w.line((l) => l === 'ready')));
    for (const w of writers) w.send('go');
    await Promise.all(writers.map((w) => w.line((l) => l === 'done')));
    for (const w of writers) expect(await w.exited, w.stderr()).to.equal(0);
    const { logger, lines } = keepingLogger();
    const store = open(dir, logger);
    const all = await store.listJobs({ limit: 1000 });
    expect(all).to.have.length(400);
    expect(await store.getFull('p2-199')).to.include({ id: 'p2-199' });
    expect((await store.getFull('p1-7'))?.args).to.deep.equal(['p1', 7]);
    expect(lines.filter((l) => l.level === 'warn')).to.deep.equal([]);
  });

  it('breaks a lock left behind by a process that died', async () => {
    const dir = dirs.make();
    const store = open(dir);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    fs.writeFileSync(path.join(dir, 'results.lock'), `${dead.stdout} ${(await import('node:os')).hostname()} ${Date.now()}\n`);
    const r = makeJobRecord();
    await store.put(r);
    expect(await store.getFull(r.id)).to.deep.equal(r);
    expect(fs.existsSync(path.join(dir, 'results.lock'))).to.equal(false);
  });
});
