import { expect } from 'chai';
import { cleanupTempProjects, json, killAll, nuvom, project } from './helpers.ts';

const MAILER = `import { task } from 'nuvom';
export class Mailer {
  @task({ name: 'mail.send', retries: 1 }) static async send(to: string) { return 'sent to ' + to; }
  @task() async digest(n: number) { return n * 2; }
}
`;

describe('cli: @task method decorators', function () {
  this.timeout(60_000);
  after(() => { killAll(); cleanupTempProjects(); });

  it('discovers decorated methods and runs their jobs in a worker', async () => {
    const p = project({ 'mailer.ts': MAILER });
    const d = await nuvom(p, ['discover', 'tasks']);
    expect(d.code, d.stderr).to.equal(0);
    expect(d.stdout).to.match(/^\+ digest +\(mailer\.ts:4\)$/m).and.match(/^\+ mail\.send +\(mailer\.ts:3\)$/m);
    const a = await nuvom(p, ['enqueue', 'mail.send', '"bob"']);
    const b = await nuvom(p, ['enqueue', 'digest', '21']);
    expect(a.code, a.stderr).to.equal(0);
    expect(b.code, b.stderr).to.equal(0);
    const w = await nuvom(p, ['runworker', '--threads', '1', '--burst']);
    expect(w.code, w.stderr).to.equal(0);
    const sent = await json<{ status: string; result: unknown; maxRetries: number }>(p, ['inspect', 'job', a.stdout.trim(), '--format', 'json']);
    expect(sent).to.include({ status: 'SUCCESS', result: 'sent to bob', maxRetries: 1 });
    const digest = await json<{ status: string; result: unknown }>(p, ['inspect', 'job', b.stdout.trim(), '--format', 'json']);
    expect(digest).to.include({ status: 'SUCCESS', result: 42 });
  });

  it('says what is wrong when task(options) without a function is used as a task', async () => {
    const { task } = await import('../../sdk/index.ts');
    const oops = task({ name: 'oops.cli' }) as unknown as { delay(): Promise<unknown> };
    expect(() => oops.delay()).to.throw(/without a function is a method decorator.*task\(options, fn\)/);
  });
});
