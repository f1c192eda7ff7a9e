/** Job ids the dispatcher makes: UUID version 7, unique, and sorting in the order they were made. */
import { expect } from 'chai';
import { newJobId } from '../../builtin-plugins/jobs/jobs.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('job ids', () => {
  it('are UUID version 7 strings carrying the millisecond they were made in', () => {
    const before = Date.now();
    const id = newJobId();
    expect(id).to.match(V7);
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    // ids never go back in time, so an earlier burst may have carried the counter a few ms ahead
    expect(ms).to.be.within(before, Date.now() + 100);
  });

  it('sort in the order they were made, within one millisecond and across a clock step back', () => {
    const t = Date.now() + 20;
    const ids = [
      ...Array.from({ length: 5000 }, () => newJobId(t)), // more than one millisecond's counter can hold
      ...Array.from({ length: 10 }, () => newJobId(t - 5000)), // the clock went back
      ...Array.from({ length: 10 }, () => newJobId()),
    ];
    for (const id of ids) expect(id).to.match(V7);
    expect(new Set(ids).size).to.equal(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`).to.equal(true);
  });
});
