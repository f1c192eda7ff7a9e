/**
 * Job ids by unique prefix (issue 15): `status`, `inspect job`, `retry` and `cancel` take the first
 * characters of an id (6 or more) when only one job's id starts with them; a prefix that several share
 * is NUVOM_E_JOB_AMBIGUOUS listing them; none found is the usual NUVOM_E_JOB_NOT_FOUND.
 */
import { expect } from 'chai';
import { createClient } from '../../sdk/index.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { cleanupTempProjects, failedWith, killAll, nuvom, project, type Project } from './helpers.ts';

describe('cli: job ids by unique prefix', function () {
  this.timeout(90_000);
  let p: Project;

  before(async () => {
    p = project();
    expect((await nuvom(p, ['discover', 'tasks'])).code).to.equal(0);
    const c = await createClient({ cwd: p.dir, env: p.env, logger: memoryLogger().logger });
    try {
      for (const id of ['c0ffee01-aaaa', 'c0ffee01-bbbb', 'c0ffee99-cccc', 'c0ffee77-dddd', 'abc']) await c.enqueue('add', [1, 2], { id });
    } finally {
      await c.close();
    }
  });
  after(() => { killAll(); cleanupTempProjects(); });

  it('status and inspect resolve a unique prefix to its job', async () => {
    const [s, i] = await Promise.all([nuvom(p, ['status', 'c0ffee9']), nuvom(p, ['inspect', 'job', 'c0ffee99-c', '--format', 'json'])]);
    expect(s.code, s.stderr).to.equal(0);
    expect(s.stdout).to.equal('c0ffee99-cccc add PENDING attempts=0\n');
    expect(i.code, i.stderr).to.equal(0);
    expect(JSON.parse(i.stdout).id).to.equal('c0ffee99-cccc');
  });

  it('an ambiguous prefix is an error listing every candidate, and changes nothing', async () => {
    for (const args of [['status', 'c0ffee01'], ['cancel', 'c0ffee0'], ['retry', 'c0ffee']]) {
      const r = await nuvom(p, args);
      failedWith(r, 1, /^(?=.*c0ffee01-aaaa \(add, PENDING, created )(?=.*c0ffee01-bbbb \(add, PENDING, created ).*the id prefix "c0ffee\d*" matches \d jobs: .*; give more characters of the id \(NUVOM_E_JOB_AMBIGUOUS\)$/);
    }
    const s = await nuvom(p, ['status', 'c0ffee01-aaaa']);
    expect(s.stdout).to.match(/ PENDING /);
  });

  it('cancel and retry act on the job a unique prefix names', async () => {
    const c = await nuvom(p, ['cancel', 'c0ffee77']);
    expect(c.code, c.stderr).to.equal(0);
    expect(c.stdout).to.equal('cancelled c0ffee77-dddd\n');
    const r = await nuvom(p, ['retry', 'job', 'c0ffee77-d']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^retried c0ffee77-dddd \(task add\): PENDING\n$/);
  });

  it('an exact id wins even when it is short or the prefix of others; too short or unknown is not found', async () => {
    const exact = await nuvom(p, ['status', 'abc']);
    expect(exact.code, exact.stderr).to.equal(0);
    expect(exact.stdout).to.match(/^abc add PENDING/);
    failedWith(await nuvom(p, ['status', 'c0ffe']), 1, 'no job with id "c0ffe" (a prefix of an id needs at least 6 characters) (NUVOM_E_JOB_NOT_FOUND)');
    failedWith(await nuvom(p, ['inspect', 'job', 'deadbeef']), 1, 'no job with id "deadbeef" (NUVOM_E_JOB_NOT_FOUND)');
  });
});
