/**
 * The claim loop's wake-up is not lost when it comes while the loop is busy (awaiting a claim or an
 * outcome flush): the next sleep returns at once. Before, a burst run whose last job ended during a
 * PostgreSQL claim round trip slept a whole poll interval before it noticed it was done.
 */
import { expect } from 'chai';
import { PoolState } from '../../builtin-plugins/worker-pool/state.ts';

describe('worker pool: waking the claim loop', function () {
  this.timeout(10_000);

  const state = () => new PoolState({} as never, {} as never, 'w1', {} as never, {} as never);

  it('returns from the next sleep at once when woken while not sleeping', async () => {
    const s = state();
    s.wake();
    // A lost wake would keep this sleep for 60 s, past the test's timeout.
    expect(await s.sleep(60_000)).to.equal(false);
  });

  it('keeps one early wake for one sleep only; the one after sleeps its time', async () => {
    const s = state();
    s.wake();
    s.wake();
    expect(await s.sleep(60_000)).to.equal(false);
    expect(await s.sleep(5)).to.equal(true);
  });

  it('still wakes a sleep in progress, and a timed-out sleep leaves no wake behind', async () => {
    const s = state();
    const sleeping = s.sleep(60_000);
    s.wake();
    expect(await sleeping).to.equal(false);
    expect(await s.sleep(5)).to.equal(true);
  });
});
