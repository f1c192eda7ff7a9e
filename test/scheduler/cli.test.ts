/**
 * The commands, run as a user runs them (the built `nuvom` binary as a process on a project with the default SQLite
 * backends): `schedule list [--json]`, `schedule cancel ID`, `runscheduler [--poll SECS]`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { cleanupTempProjects, tempProject, waitFor } from '../helpers/tmp.ts';
import { boot, runNode, TestClock } from './helpers.ts';
import { ping, report } from './fixtures/tasks.ts';

const nuvom = (cwd: string, ...args: string[]) => runNode('bin/nuvom.js', ['--cwd', cwd, ...args]);

describe('scheduler: commands', function () {
  this.timeout(60_000);
  let cwd: string;
  let ids: { interval: string; cron: string; once: string };

  before(async () => {
    cwd = tempProject();
    // The manifest the registry reads, as `nuvom discover tasks` would write it.
    mkdirSync(path.join(cwd, '.nuvom'), { recursive: true });
    writeFileSync(path.join(cwd, '.nuvom/manifest.json'), JSON.stringify({
      root: '.', tasks: [{ name: 'sched.ping', file: 'tasks.ts', export: 'ping' }, { name: 'sched.report', file: 'tasks.ts', export: 'report' }],
    }));
    const b = await boot({ backend: 'sqlite', clock: new TestClock(Date.parse('2030-01-01T00:00:00Z')), cwd });
    ids = {
      interval: (await b.schedule(ping, { everySecs: 300 }, 1)).id,
      cron: (await b.schedule(report, { cron: '0 9 * * MON', timezone: 'Europe/Berlin' }, '2030-01-07', { full: true })).id,
      once: (await b.schedule(ping, { at: '2030-06-01T12:00:00Z' })).id,
    };
    await b.close();
  });
  after(() => cleanupTempProjects());

  it('`schedule list` prints a table of the active schedules on stdout', async () => {
    const { code, stdout } = await nuvom(cwd, 'schedule', 'list').done;
    expect(code).to.equal(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^ID +KEY +TASK +TRIGGER +NEXT RUN +STATUS$/);
    expect(lines.slice(1).join('\n')).to.contain(ids.interval).and.contain('every 300s')
      .and.contain('cron 0 9 * * MON (Europe/Berlin)').and.contain('2030-01-07T08:00:00.000Z').and.contain('once');
    expect(lines).to.have.length(4);
  });

  it('`schedule list --json` prints pure JSON with the arguments decoded', async () => {
    const { code, stdout } = await nuvom(cwd, 'schedule', 'list', '--json').done;
    expect(code).to.equal(0);
    const rows = JSON.parse(stdout) as Array<Record<string, unknown>>;
    const cron = rows.find((r) => r.id === ids.cron)!;
    expect(cron).to.include({ taskName: 'sched.report', kind: 'cron', cron: '0 9 * * MON', timezone: 'Europe/Berlin', misfire: 'skip', status: 'ACTIVE', nextRunAt: '2030-01-07T08:00:00.000Z', priority: 4 });
    expect(cron.args).to.deep.equal(['2030-01-07', { full: true }]);
    expect(cron.options).to.include({ maxRetries: 3, timeoutSecs: 7 });
  });

  it('`schedule cancel ID` cancels; an unknown or finished id exits 1 with one clear line', async () => {
    const ok = await nuvom(cwd, 'schedule', 'cancel', ids.once).done;
    expect([ok.code, ok.stdout]).to.deep.equal([0, `${ids.once} CANCELLED\n`]);
    const again = await nuvom(cwd, 'schedule', 'cancel', ids.once).done;
    expect(again.code).to.equal(1);
    expect(again.stderr).to.equal(`error: schedule "${ids.once}" is already CANCELLED; only ACTIVE schedules can be cancelled (NUVOM_E_SCHEDULE_INVALID)\n`);
    const unknown = await nuvom(cwd, 'schedule', 'cancel', 'no-such-id').done;
    expect(unknown.code).to.equal(1);
    expect(unknown.stdout).to.equal('');
    expect(unknown.stderr).to.equal('error: no schedule with id or key "no-such-id"; `nuvom schedule list --all` shows the ids and keys (NUVOM_E_SCHEDULE_NOT_FOUND)\n');
    const list = await nuvom(cwd, 'schedule', 'list', '--all', '--json').done;
    expect((JSON.parse(list.stdout) as Array<{ id: string; status: string }>).find((r) => r.id === ids.once)!.status).to.equal('CANCELLED');
    const json = await nuvom(cwd, 'schedule', 'cancel', ids.interval, '--json').done;
    expect([json.code, JSON.parse(json.stdout)]).to.deep.equal([0, { id: ids.interval, status: 'CANCELLED' }]);
  });

  it('`schedule list` shows a row stored with an invalid time as invalid, and lists the others', async () => {
    const dir = tempProject();
    const b = await boot({ backend: 'sqlite', clock: new TestClock(Date.parse('2030-01-01T00:00:00Z')), cwd: dir });
    let good: string;
    try {
      good = (await b.schedule(ping, { everySecs: 60 }, 1)).id;
      // As an older version stored `{ at: 1e21 }` before it threw.
      const [entry] = await b.scheduler.list();
      await b.kernel.resolve('scheduleStore').add({ ...entry, id: 'bad-row', nextRunAt: 1e21 });
    } finally {
      await b.close();
    }
    const table = await nuvom(dir, 'schedule', 'list').done;
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.contain(good).and.match(/bad-row .* invalid \(1e\+21\) +ACTIVE/);
    expect(table.stderr).to.contain('schedule bad-row (task "sched.ping") is stored with an invalid time (nextRunAt 1e+21 is not a valid time); cancel it with `nuvom schedule cancel bad-row`');
    const json = await nuvom(dir, 'schedule', 'list', '--json').done;
    expect(json.code, json.stderr).to.equal(0);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows.find((r) => r.id === 'bad-row')).to.include({ nextRunAt: null, invalid: 'nextRunAt 1e+21 is not a valid time' });
    expect(rows.find((r) => r.id === good)).to.not.have.property('invalid');
    const cancel = await nuvom(dir, 'schedule', 'cancel', 'bad-row').done;
    expect(cancel.code, cancel.stderr).to.equal(0);
  });

  it('`schedule list --json` prints arguments a serializer hands back: BigInt as text, bytes as base64', async () => {
    const dir = tempProject();
    const b = await boot({ backend: 'sqlite', clock: new TestClock(Date.parse('2030-01-01T00:00:00Z')), cwd: dir });
    let id: string;
    try {
      id = (await b.schedule(ping, { everySecs: 3600 }, 10n, new Uint8Array([1, 2, 3]))).id;
      await b.schedule(ping, { everySecs: 60 }, 1);
    } finally {
      await b.close();
    }
    const r = await nuvom(dir, 'schedule', 'list', '--json').done;
    expect(r.code, r.stderr).to.equal(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows).to.have.length(2);
    expect(rows.find((x) => x.id === id)!.args).to.deep.equal(['10', { $bytes: 'AQID' }]);
  });

  it('`schedule cancel KEY` prints the schedule\'s id, not the key it was given', async () => {
    const dir = tempProject();
    const b = await boot({ backend: 'sqlite', clock: new TestClock(Date.parse('2030-01-01T00:00:00Z')), cwd: dir });
    try {
      await b.schedule(ping, { everySecs: 60, key: 'nightly' });
      await b.schedule(ping, { everySecs: 60, key: 'weekly' });
    } finally {
      await b.close();
    }
    const json = await nuvom(dir, 'schedule', 'cancel', 'nightly', '--json').done;
    expect([json.code, JSON.parse(json.stdout)]).to.deep.equal([0, { id: 'key:nightly', status: 'CANCELLED' }]);
    const text = await nuvom(dir, 'schedule', 'cancel', 'weekly').done;
    expect([text.code, text.stdout]).to.deep.equal([0, 'key:weekly CANCELLED\n']);
  });

  it('`runscheduler --poll 0` is a usage error (exit 2)', async () => {
    const r = await nuvom(cwd, 'runscheduler', '--poll', '0').done;
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('--poll must be a number of seconds > 0, got "0"');
  });

  it('`runscheduler --poll` longer than a day is a usage error (exit 2)', async () => {
    const r = await nuvom(cwd, 'runscheduler', '--poll', '1e7').done;
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('--poll must be at most 86400 seconds (a day), got "1e7"');
    expect(r.stderr).to.not.contain('scheduler loop started');
  });

  it('`runscheduler` dispatches a due schedule and stops on SIGTERM', async () => {
    const dir = tempProject();
    mkdirSync(path.join(dir, '.nuvom'), { recursive: true });
    writeFileSync(path.join(dir, '.nuvom/manifest.json'), JSON.stringify({ root: '.', tasks: [{ name: 'sched.ping', file: 'tasks.ts', export: 'ping' }] }));
    const b = await boot({ backend: 'sqlite', clock: { now: () => Date.now() } as TestClock, cwd: dir });
    try {
      const h = await b.schedule(ping, { at: '2020-01-01T00:00:00Z' }, 42);
      const run = nuvom(dir, 'runscheduler', '--poll', '0.05');
      await waitFor(async () => (await b.fired(h.id)).length === 1, { what: 'the scheduler process to dispatch the job', timeoutMs: 20_000 });
      run.child.kill('SIGTERM');
      const r = await run.done;
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.contain('scheduler loop started').and.contain('SIGTERM: stopping the scheduler').and.contain('scheduler stopped');
      expect((await b.kernel.resolve('jobs').getJob(`${h.id}:2020-01-01T00:00:00.000Z`))!.args).to.deep.equal([42]);
    } finally {
      await b.close();
    }
  });
});
