import { expect } from 'chai';
import { createClient, type Client, type JobRecord } from '../../sdk/index.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { cleanupTempProjects, failedWith, json, killAll, nuvom, project, start, waitFor, type Project } from './helpers.ts';

const RECORD_KEYS = ['id', 'taskName', 'args', 'status', 'attempts', 'maxRetries', 'retriesLeft', 'priority', 'tags', 'createdAt',
  'startedAt', 'completedAt', 'nextRunAt', 'result', 'error', 'timeoutSecs', 'timeoutPolicy', 'workerId', 'history'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ANSI = /\x1b\[/;

describe('cli: operations commands (inspect, history, retry, cancel, stats)', function () {
  this.timeout(60_000);
  let p: Project;
  let client: Client;
  const ids = { add: '', boom: '', add2: '', pending: '', pending2: '' };

  async function enqueue(...args: string[]): Promise<string> {
    const r = await nuvom(p, ['enqueue', ...args]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.trim();
  }

  // Checks read the store in-process (the same SQLite file the children use): fewer process starts.
  const history = () => client.listJobs({ limit: 1000 });
  const record = async (id: string) => (await client.getJob(id))!;

  before(async () => {
    p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    ids.add = await enqueue('add', '2', '3');
    ids.boom = await enqueue('boom', '"kaput"');
    ids.add2 = await enqueue('add', '10', '20');
    const w = await nuvom(p, ['runworker', '--burst', '--threads', '1']);
    expect(w.code, w.stderr).to.equal(0);
    expect(w.stdout).to.equal('');
    ids.pending = await enqueue('add', '1', '1');
    ids.pending2 = await enqueue('add', '4', '4');
    client = await createClient({ cwd: p.dir, env: p.env, logger: memoryLogger().logger });
  });
  after(async () => { killAll(); await client?.close(); cleanupTempProjects(); });

  describe('help and unknown commands', () => {
    it('every operations command has --help with an example, exit 0', async () => {
      const cmds = [['inspect'], ['inspect', 'job'], ['history'], ['history', 'recent'], ['history', 'purge'], ['retry'], ['retry', 'job'], ['cancel'], ['cancel', 'job'], ['stats']];
      const runs = await Promise.all(cmds.map((c) => nuvom(p, [...c, '--help'])));
      runs.forEach((r, i) => {
        expect(r.code, cmds[i].join(' ')).to.equal(0);
        expect(r.stdout, cmds[i].join(' ')).to.match(/\nExample:\n {2}\$ nuvom /).and.include(`Usage: nuvom ${cmds[i].join(' ')}`);
      });
    });

    it('an unknown command suggests the nearest one, exit 2', async () => {
      const r = await nuvom(p, ['histroy', 'recent']);
      failedWith(r, 2, "unknown command 'histroy'");
      expect(r.stderr).to.include('Did you mean history?');
    });

    it('an unknown subcommand suggests the nearest one, exit 2', async () => {
      const r = await nuvom(p, ['history', 'recnt']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('Did you mean recent?');
    });
  });

  describe('inspect job', () => {
    it('shows a failed job as a table with the error stack in full', async () => {
      const r = await nuvom(p, ['inspect', 'job', ids.boom]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.match(new RegExp(`^id +${ids.boom}$`, 'm'));
      expect(r.stdout).to.match(/^status +FAILED$/m).and.match(/^error +TypeError: kaput$/m).and.match(/^args +\["kaput"\]$/m);
      expect(r.stdout).to.match(/\nstack\nTypeError: kaput\n\s+at .*tasks\.mjs:3:\d+/);
      expect(r.stdout).not.to.match(ANSI);
    });

    it('shows the decoded result of a successful job', async () => {
      const r = await nuvom(p, ['inspect', 'job', ids.add]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^result +5$/m).and.match(/^status +SUCCESS$/m).and.match(/^took +\d/m);
    });

    it('--format json prints the job record, pretty, and nothing else', async () => {
      const r = await nuvom(p, ['inspect', 'job', ids.add, '--format', 'json']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^\{\n {2}"id": /);
      const rec = JSON.parse(r.stdout) as JobRecord;
      expect(Object.keys(rec)).to.have.members(RECORD_KEYS);
      expect(rec).to.include({ id: ids.add, taskName: 'add', status: 'SUCCESS', result: 5, attempts: 1, error: null });
      expect(rec.args).to.deep.equal([2, 3]);
      for (const k of ['createdAt', 'startedAt', 'completedAt'] as const) expect(rec[k]).to.match(ISO);
    });

    it('--format raw prints the record as stored, on one line', async () => {
      const raw = await nuvom(p, ['inspect', 'job', ids.boom, '--format', 'RAW']);
      expect(raw.code).to.equal(0);
      expect(raw.stdout.trimEnd().split('\n')).to.have.length(1);
      const rec = JSON.parse(raw.stdout) as JobRecord;
      expect(rec).to.deep.equal(await record(ids.boom));
      expect(rec.error).to.include({ name: 'TypeError', message: 'kaput' });
      expect(rec.error!.stack).to.include('tasks.mjs');
    });

    it('an unknown job id is one clear line, exit 1', async () => {
      failedWith(await nuvom(p, ['inspect', 'job', 'no-such-job']), 1, 'no job with id "no-such-job" (NUVOM_E_JOB_NOT_FOUND)');
    });

    it('an unknown --format is a usage error, exit 2', async () => {
      failedWith(await nuvom(p, ['inspect', 'job', ids.add, '--format', 'xml']), 2, '--format must be one of table, json, raw, got "xml"');
    });
  });

  describe('history recent', () => {
    it('--json prints every job, newest first, as parseable JSON', async () => {
      const r = await nuvom(p, ['history', 'recent', '--json']);
      expect(r.code).to.equal(0);
      expect(r.stderr).to.equal('');
      const recs = JSON.parse(r.stdout) as JobRecord[];
      expect(recs.map((x) => x.id)).to.include.members(Object.values(ids));
      const times = recs.map((x) => Date.parse(x.createdAt));
      expect(times).to.deep.equal([...times].sort((a, b) => b - a));
      for (const rec of recs) expect(Object.keys(rec)).to.have.members(RECORD_KEYS);
    });

    it('filters by --status (case-insensitive, comma-separated), --task and --limit', async () => {
      const [failed, some, adds, one] = await Promise.all([
        json<JobRecord[]>(p, ['history', 'recent', '--status', 'failed', '--json']),
        json<JobRecord[]>(p, ['history', 'recent', '--status', 'SUCCESS,failed', '--json']),
        json<JobRecord[]>(p, ['history', 'recent', '--task', 'add', '--json']),
        json<JobRecord[]>(p, ['history', 'recent', '--limit', '1', '--json']),
      ]);
      expect(failed.map((x) => x.id)).to.include(ids.boom);
      expect(failed.every((x) => x.status === 'FAILED')).to.equal(true);
      expect(some.map((x) => x.id)).to.include.members([ids.boom, ids.add, ids.add2]);
      expect(some.every((x) => x.status === 'FAILED' || x.status === 'SUCCESS')).to.equal(true);
      expect(adds.length).to.be.greaterThan(0);
      expect(adds.every((x) => x.taskName === 'add')).to.equal(true);
      expect(one).to.have.length(1);
    });

    it('prints a table without colours when stdout is not a terminal', async () => {
      const r = await nuvom(p, ['history', 'recent']);
      expect(r.code).to.equal(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).to.match(/^ID +TASK +STATUS +ATT +CREATED +RESULT \/ ERROR$/);
      expect(r.stdout).to.match(new RegExp(`^${ids.boom} +boom +FAILED +1 +\\d+[smhd] ago +TypeError: kaput$`, 'm'));
      expect(r.stdout).to.match(new RegExp(`^${ids.add} +add +SUCCESS +1 +\\d+[smhd] ago +5$`, 'm'));
      expect(r.stdout).not.to.match(ANSI);
    });

    it('fits the table to the terminal width, cutting long cells with an ellipsis', async () => {
      const r = await nuvom(p, ['history', 'recent'], { COLUMNS: '60' });
      expect(r.code).to.equal(0);
      const lines = r.stdout.trimEnd().split('\n');
      for (const l of lines) expect(l.length, l).to.be.at.most(60);
      expect(r.stdout).to.include('…');
    });

    it('colours only when asked (FORCE_COLOR), never with NO_COLOR', async () => {
      const [forced, vetoed] = await Promise.all([
        nuvom(p, ['history', 'recent'], { FORCE_COLOR: '1' }),
        nuvom(p, ['history', 'recent'], { FORCE_COLOR: '1', NO_COLOR: '1' }),
      ]);
      expect(forced.stdout).to.match(ANSI);
      expect(vetoed.stdout).not.to.match(ANSI);
    });

    it('refuses a bad --limit or --status with a usage error, exit 2', async () => {
      const [zero, word, status] = await Promise.all([
        nuvom(p, ['history', 'recent', '--limit', '0']),
        nuvom(p, ['history', 'recent', '--limit', 'ten']),
        nuvom(p, ['history', 'recent', '--status', 'DONE']),
      ]);
      failedWith(zero, 2, '--limit must be a whole number >= 1, got "0" (NUVOM_E_USAGE)');
      failedWith(word, 2, '--limit must be a whole number >= 1, got "ten"');
      failedWith(status, 2, '--status must be one of PENDING, RUNNING, RETRYING, SUCCESS, FAILED, CANCELLED');
    });

    it('says so when no job matches', async () => {
      const [table, list] = await Promise.all([
        nuvom(p, ['history', 'recent', '--task', 'nothing-by-this-name']),
        nuvom(p, ['history', 'recent', '--task', 'nothing-by-this-name', '--json']),
      ]);
      expect(table.stdout).to.equal('no jobs found\n');
      expect(JSON.parse(list.stdout)).to.deep.equal([]);
    });
  });

  describe('stats', () => {
    it('--json counts per status and per task, the oldest pending job, throughput over the last minute', async () => {
      const before = Date.now();
      const s = await json<Record<string, any>>(p, ['stats', '--json']);
      const recs = await history();
      const count = (f: (r: JobRecord) => boolean) => recs.filter(f).length;
      expect(s.total).to.equal(recs.length);
      for (const st of ['PENDING', 'RUNNING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELLED']) {
        expect(s.byStatus[st], st).to.equal(count((r) => r.status === st));
      }
      expect(s.byTask.add.total).to.equal(count((r) => r.taskName === 'add'));
      expect(s.byTask.boom.FAILED).to.be.at.least(0);
      const pending = recs.filter((r) => r.status === 'PENDING').map((r) => r.createdAt).sort();
      expect(s.oldestPendingAt).to.equal(pending[0] ?? null);
      if (pending[0]) expect(s.oldestPendingAgeSecs).to.be.within(0, Math.ceil((before - Date.parse(pending[0])) / 1000) + 30);
      expect(s.windowSecs).to.equal(60);
      expect(s.completedInWindow).to.equal(count((r) => (r.status === 'SUCCESS' || r.status === 'FAILED') && Date.parse(r.completedAt!) >= before - 60_000));
      expect(s.throughputPerSec).to.be.closeTo(s.completedInWindow / 60, 0.01);
    });

    it('prints a table per task and status, then the oldest pending job and the throughput', async () => {
      const r = await nuvom(p, ['stats']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^TASK +PENDING +RUNNING +RETRYING +SUCCESS +FAILED +CANCELLED +TOTAL$/m);
      expect(r.stdout).to.match(/^add +\d+/m).and.match(/^\(all\) +\d+/m);
      expect(r.stdout).to.match(/^oldest pending +(?:\d+(?:\.\d)?(?:ms|s)|\d+[mhd] \d+[smh]) \(created \d{4}-/m);
      expect(r.stdout).to.match(/^throughput +\d+ completed in the last 1m \(\d+\.\d\d jobs\/s\)$/m);
    });

    it('refuses a bad --window, exit 2', async () => {
      failedWith(await nuvom(p, ['stats', '--window', 'soon']), 2, '--window must be a duration');
    });
  });

  describe('retry job', () => {
    it('refuses a SUCCESS job with the reason, exit 1', async () => {
      failedWith(await nuvom(p, ['retry', 'job', ids.add]), 1, 'it succeeded; only FAILED or CANCELLED jobs are retried');
    });

    it('refuses an unknown job id, exit 1', async () => {
      failedWith(await nuvom(p, ['retry', 'job', 'no-such-job']), 1, 'no job with id "no-such-job"');
    });

    it('puts a FAILED job back in the queue under the same id', async () => {
      const r = await nuvom(p, ['retry', 'job', ids.boom]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`retried ${ids.boom} (task boom): PENDING\n`);
      const rec = await record(ids.boom);
      expect(rec).to.include({ status: 'PENDING', error: null });
      expect(rec.args).to.deep.equal(['kaput']);
    });
  });

  describe('cancel job', () => {
    it('cancels a PENDING job, then refuses to cancel it again', async () => {
      const r = await nuvom(p, ['cancel', 'job', ids.pending2]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`cancelled ${ids.pending2}\n`);
      expect((await record(ids.pending2)).status).to.equal('CANCELLED');
      failedWith(await nuvom(p, ['cancel', 'job', ids.pending2]), 1, 'is already CANCELLED');
    });

    it('refuses an unknown job id, exit 1', async () => {
      failedWith(await nuvom(p, ['cancel', 'job', 'no-such-job']), 1, 'no job with id "no-such-job"');
    });
  });

  describe('history purge', () => {
    it('needs --older-than, a valid duration and final statuses only (exit 2)', async () => {
      const [missing, bad, live] = await Promise.all([
        nuvom(p, ['history', 'purge']),
        nuvom(p, ['history', 'purge', '--older-than', '7 days']),
        nuvom(p, ['history', 'purge', '--older-than', '1d', '--status', 'PENDING']),
      ]);
      failedWith(missing, 2, "required option '--older-than <duration>' not specified");
      failedWith(bad, 2, '--older-than must be a duration such as 7d, 12h, 30m, 90s');
      failedWith(live, 2, 'are never purged');
    });

    it('keeps records younger than the duration', async () => {
      const before = (await history()).length;
      const r = await nuvom(p, ['history', 'purge', '--older-than', '1h']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal('deleted 0 job records (SUCCESS, FAILED, CANCELLED) older than 1h\n');
      expect(await history()).to.have.length(before);
    });

    it('deletes the matching records and prints how many', async () => {
      const id = await enqueue('add', '7', '7');
      expect(await client.cancelJob(id)).to.equal('cancelled');
      const cancelled = (await history()).filter((r) => r.status === 'CANCELLED');
      expect(cancelled.length).to.be.at.least(1);
      const r = await nuvom(p, ['history', 'purge', '--older-than', '0s', '--status', 'cancelled']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal(`deleted ${cancelled.length} job record${cancelled.length === 1 ? '' : 's'} (CANCELLED) older than 0s\n`);
      const left = await history();
      expect(left.filter((x) => x.status === 'CANCELLED')).to.deep.equal([]);
      expect(left.map((x) => x.id)).to.include(ids.add);
      failedWith(await nuvom(p, ['inspect', 'job', id]), 1, 'NUVOM_E_JOB_NOT_FOUND');
    });
  });
});

describe('cli: cancel job on a running job', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it('requests the cancel of the running job; its worker records it CANCELLED', async () => {
    const p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    const id = (await nuvom(p, ['enqueue', 'slow', '60000'])).stdout.trim();
    const worker = start(p, ['runworker', '--burst', '--threads', '1', '--batch-size', '1'], { NUVOM_VISIBILITY_TIMEOUT_SECS: '2' });
    const client = await createClient({ cwd: p.dir, env: p.env, logger: memoryLogger().logger });
    try {
      await waitFor(async () => (await client.getJob(id))?.status === 'RUNNING', { what: 'the job to run', timeoutMs: 30_000 });
    } finally {
      await client.close();
    }
    const r = await nuvom(p, ['cancel', 'job', id]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(new RegExp(`^requested ${id}: `));
    const done = await worker.done;
    expect(done.code, done.stderr).to.equal(0);
    const rec = await json<JobRecord>(p, ['inspect', 'job', id, '--format', 'json']);
    expect(rec.status).to.equal('CANCELLED');
    expect(rec.error!.name).to.equal('AbortError');
  });
});

describe('cli: a result backend that cannot answer a query', function () {
  this.timeout(60_000);
  after(cleanupTempProjects);

  // A third-party result store: listJobs and stats are refused, purge is missing altogether.
  const LIMITED = `import { definePlugin, NuvomError } from 'nuvom/plugin';
const refuse = async () => { throw new NuvomError('NUVOM_E_UNSUPPORTED', 'this store keeps no index'); };
export default definePlugin({
  name: 'acme-limited', apiVersion: 1, provides: ['resultStore:limited'],
  register(ctx) {
    ctx.provide('resultStore', 'limited', () => ({
      put: async () => {}, putMany: async () => {}, getFull: async () => null, getResult: async () => undefined,
      getError: async () => null, listJobs: refuse, stats: refuse, close: async () => {},
    }));
  },
});
`;

  it('says which command needs what, in one line, exit 1, no stack trace', async () => {
    const p = project({ 'limited.mjs': LIMITED, '.nuvom_plugins.toml': '[plugins]\nresult_backend = ["./limited.mjs"]\n' });
    p.env.NUVOM_RESULT_BACKEND = 'limited';
    const [recent, stats, purge] = await Promise.all([
      nuvom(p, ['history', 'recent', '--json']),
      nuvom(p, ['stats', '--json']),
      nuvom(p, ['history', 'purge', '--older-than', '7d']),
    ]);
    failedWith(recent, 1, '`nuvom history recent` needs to list jobs, which the "limited" result backend does not support (this store keeps no index)');
    failedWith(stats, 1, '`nuvom stats` needs to count jobs');
    failedWith(purge, 1, '(it has no purge())');
    for (const r of [recent, stats, purge]) expect(r.stderr).to.include('(NUVOM_E_UNSUPPORTED)');
  });
});
