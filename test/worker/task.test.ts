import { expect } from 'chai';
import { getTask, isNuvomError, registerTask, task } from '../../sdk/index.ts';
import { retryDelayMs } from '../../builtin-plugins/worker-pool/backoff.ts';

describe('task()', () => {
  it("takes the function's own name when no name option is given", () => {
    async function sendEmail(to: string) { return to; }
    expect(task({ retries: 3 }, sendEmail).name).to.equal('sendEmail');
  });

  it('refuses an anonymous function without a name, saying how to fix it', () => {
    expect(() => task({}, (() => (x: number) => x)())).to.throw(/could not find a name.*task\(\{ name:/);
  });

  it('refuses invalid options with the option and the task named', () => {
    expect(() => task({ name: 'x.bad', timeoutPolicy: 'later' as never }, async () => 1)).to.throw(/task "x.bad": option "timeoutPolicy" must be 'retry', 'fail' or 'ignore'/);
  });

  it('runs the function inline with run()', async () => {
    const double = task({ name: 'x.double' }, async (n: number) => n * 2);
    expect(await double.run(21)).to.equal(42);
  });
});

describe('the task table', () => {
  it('refuses a second task of one name from another module; force replaces it, silent keeps the first', () => {
    const first = task({ name: 'table.dup' }, async () => 1);
    const other = { ...first, fn: async () => 2, moduleUrl: 'file:///elsewhere/tasks.ts' } as unknown as Parameters<typeof registerTask>[0];
    let err: unknown;
    try { registerTask(other); } catch (e) { err = e; }
    expect(isNuvomError(err, 'NUVOM_E_TASK_DUPLICATE'), String(err)).to.equal(true);
    expect(String(err)).to.include('table.dup').and.include('force: true');
    registerTask(other, { silent: true });
    expect(getTask('table.dup')).to.equal(first);
    registerTask(other, { force: true });
    expect(getTask('table.dup')).to.equal(other);
  });
});

describe('retry back-off', () => {
  it('waits the fixed delay every time by default', () => {
    expect([1, 2, 3].map((a) => retryDelayMs({ retryDelaySecs: 2, backoff: 'fixed' }, a))).to.deep.equal([2000, 2000, 2000]);
  });

  it('doubles the exponential delay per attempt, jittered within its upper half', () => {
    expect([1, 2, 3].map((a) => retryDelayMs({ retryDelaySecs: 1, backoff: 'exponential' }, a, () => 0))).to.deep.equal([500, 1000, 2000]);
    expect([1, 2, 3].map((a) => retryDelayMs({ retryDelaySecs: 1, backoff: 'exponential' }, a, () => 1))).to.deep.equal([1000, 2000, 4000]);
  });
});
