import { expect } from 'chai';
import { isNuvomError } from '../../sdk/plugin.ts';
import { parseTrigger, timeline } from '../../builtin-plugins/scheduler/trigger.ts';
import { boot, iso, TestClock, type Booted } from './helpers.ts';
import { cleanupTempProjects } from '../helpers/tmp.ts';
import { ping } from './fixtures/tasks.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const parse = (trigger: unknown) => parseTrigger(trigger, NOW, 'seed', 'task "t".schedule()');

function refusal(trigger: unknown): string {
  try {
    parse(trigger);
  } catch (err) {
    expect(isNuvomError(err, 'NUVOM_E_SCHEDULE_INVALID'), String(err)).to.equal(true);
    return (err as Error).message;
  }
  throw new Error(`${JSON.stringify(trigger)} was accepted`);
}

describe('scheduler: triggers', () => {
  it('reads each of the four shapes and its first fire time', () => {
    expect(parse({ at: new Date('2038-01-19T03:14:07Z') })).to.include({ kind: 'once', firstRunAt: Date.parse('2038-01-19T03:14:07Z'), misfire: 'skip' });
    expect(parse({ at: '2038-01-19T04:14:07+01:00' }).firstRunAt).to.equal(Date.parse('2038-01-19T03:14:07Z'));
    expect(parse({ at: Date.parse('2038-01-19T03:14:07Z') }).firstRunAt).to.equal(Date.parse('2038-01-19T03:14:07Z'));
    expect(parse({ inSecs: 30 })).to.include({ kind: 'once', firstRunAt: NOW + 30_000 });
    expect(parse({ inSecs: 0 })).to.include({ kind: 'once', firstRunAt: NOW });
    expect(parse({ everySecs: 300 })).to.include({ kind: 'interval', everySecs: 300, firstRunAt: NOW + 300_000 });
    expect(parse({ cron: '0 9 * * MON', timezone: 'Europe/Berlin' })).to.include({
      kind: 'cron', cron: '0 9 * * MON', timezone: 'Europe/Berlin', firstRunAt: Date.parse('2026-03-02T08:00:00Z'),
    });
    expect(parse({ cron: '*/15 * * * *' })).to.include({ timezone: 'UTC', firstRunAt: NOW + 15 * 60_000 });
  });

  it('takes the last day of a month and a leap day', () => {
    expect(parse({ at: '2036-02-29T23:59:59Z' }).firstRunAt).to.equal(Date.parse('2036-02-29T23:59:59Z'));
    expect(parse({ at: '2038-04-30T00:00+02:00' }).firstRunAt).to.equal(Date.parse('2038-04-29T22:00:00Z'));
  });

  it('takes the last millisecond of year 9999, as the dispatcher does', () => {
    expect(parse({ at: '9999-12-31T23:59:59.999Z' }).firstRunAt).to.equal(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  });

  it('keeps an `at` in the past as it is: it is due, and runs at the next poll', () => {
    expect(parse({ at: '2020-01-01T00:00:00Z' }).firstRunAt).to.equal(Date.parse('2020-01-01T00:00:00Z'));
  });

  it('takes misfire on everySecs and cron triggers', () => {
    expect(parse({ everySecs: 60, misfire: 'catchup' }).misfire).to.equal('catchup');
    expect(parse({ cron: '@daily', misfire: 'skip' }).misfire).to.equal('skip');
  });

  const refused: Array<[string, unknown, string]> = [
    ['no trigger at all', {}, 'names no time'],
    ['two triggers', { inSecs: 5, everySecs: 5 }, 'names 2 times (inSecs, everySecs)'],
    ['a non-object', 'every minute', 'must be an object'],
    ['an unknown key', { everySecs: 5, every: 5 }, 'unknown trigger key "every"'],
    ['a zero interval', { everySecs: 0 }, 'everySecs must be a number of seconds from 1 to 3153600000 (100 years), got 0'],
    ['a negative interval', { everySecs: -60 }, 'everySecs must be a number of seconds from 1 to 3153600000 (100 years), got -60'],
    ['an interval shorter than the scheduler\'s pass', { everySecs: 1e-9 }, 'everySecs must be a number of seconds from 1 to 3153600000 (100 years), got 1e-9'],
    ['an interval past year 9999', { everySecs: 1e12 }, 'got 1000000000000'],
    ['an infinite interval', { everySecs: Infinity }, 'got Infinity'],
    ['an interval that is not a number', { everySecs: '60' }, 'everySecs must be a number'],
    ['a negative delay', { inSecs: -1 }, 'inSecs must be a number of seconds >= 0'],
    ['an invalid cron field', { cron: '61 * * * *' }, 'invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59'],
    ['a cron with a bad alias', { cron: '0 9 * * MOX' }, 'cannot resolve alias "mox"'],
    ['an impossible cron date', { cron: '0 0 30 2 *' }, 'invalid cron expression "0 0 30 2 *"'],
    ['a cron with 4 fields', { cron: '0 9 * *' }, 'has 4 field(s); expected 5'],
    ['an empty cron', { cron: '  ' }, 'cron must be a non-empty string'],
    ['an unknown time zone', { cron: '0 9 * * *', timezone: 'Europe/Berlinn' }, 'timezone "Europe/Berlinn" is not an IANA time zone name'],
    ['an offset for a time zone', { cron: '0 9 * * *', timezone: '+02:00' }, 'is not an IANA time zone name'],
    ['a time zone without cron', { everySecs: 60, timezone: 'UTC' }, 'timezone applies to cron triggers only'],
    ['an invalid Date', { at: new Date('nope') }, 'is not a valid time'],
    ['an unparseable string', { at: 'tomorrow' }, 'is not an ISO-8601 time with a zone'],
    ['a time without a zone', { at: '2038-01-19T03:14:07' }, 'without Z or an offset'],
    ['epoch seconds for at', { at: 2147483647 }, 'looks like epoch seconds'],
    ['an `at` past year 9999', { at: 1e20 }, 'at: 100000000000000000000 is past year 9999; give a time before 10000-01-01'],
    ['an `at` past year 9999 that a Date can still hold', { at: 9e15 }, 'is past year 9999'],
    ['an `at` string past year 9999', { at: '+010000-01-01T00:00:00Z' }, 'is not an ISO-8601 time with a zone'],
    ['an `at` before the first time a Date can hold', { at: -9e15 }, 'is not a valid time'],
    ['an `inSecs` past year 9999', { inSecs: 1e13 }, 'inSecs 10000000000000 puts the first run past year 9999; give a shorter delay'],
    ['an `inSecs` too large to add', { inSecs: 1e300 }, 'puts the first run past year 9999'],
    ['a day that does not exist', { at: '2038-02-30T00:00:00Z' }, 'at: "2038-02-30T00:00:00Z" names a date or time that does not exist (2038-02 has 28 days; hours go 00-23, minutes and seconds 00-59)'],
    ['hour 24', { at: '2038-01-19T24:00:00Z' }, 'names a date or time that does not exist'],
    ['month 13', { at: '2038-13-01T00:00:00+01:00' }, 'names a date or time that does not exist (months go 01-12;'],
    ['@reboot', { cron: '@reboot' }, 'cron "@reboot" is not supported'],
    ['misfire on a one-off', { inSecs: 5, misfire: 'catchup' }, 'a one-off (inSecs) always runs once'],
    ['an unknown misfire policy', { everySecs: 5, misfire: 'later' }, "misfire must be 'skip' or 'catchup'"],
  ];
  for (const [what, trigger, message] of refused) {
    it(`refuses ${what}, saying why`, () => {
      expect(refusal(trigger)).to.contain('task "t".schedule()').and.contain(message);
    });
  }
});

describe('scheduler: timelines', () => {
  const interval = { id: 'i', kind: 'interval' as const, everySecs: 60, cron: null, timezone: null };
  const t0 = Date.parse('2026-03-01T00:01:00Z');

  it('moves an interval from its own fire time, not from now', () => {
    expect(timeline(interval, t0, t0 + 900)).to.deep.equal({ latest: t0, passed: 1, next: t0 + 60_000 });
    expect(timeline(interval, t0, t0 + 59_999).next).to.equal(t0 + 60_000);
    expect(timeline(interval, t0, t0 + 60_000)).to.deep.equal({ latest: t0 + 60_000, passed: 2, next: t0 + 120_000 });
    expect(timeline(interval, t0, t0 + 5.5 * 60_000)).to.deep.equal({ latest: t0 + 300_000, passed: 6, next: t0 + 360_000 });
  });

  it('walks a cron from its fire time, counting the fire times missed', () => {
    const cron = { id: 'c', kind: 'cron' as const, everySecs: null, cron: '0 * * * *', timezone: 'UTC' };
    const at = Date.parse('2026-03-01T10:00:00Z');
    expect(timeline(cron, at, at + 3.5 * 3600_000)).to.deep.equal({ latest: at + 3 * 3600_000, passed: 4, next: at + 4 * 3600_000 });
  });

  it('jumps to now after a long outage on a frequent cron instead of walking every missed time', () => {
    const cron = { id: 'c', kind: 'cron' as const, everySecs: null, cron: '* * * * * *', timezone: 'UTC' };
    const at = Date.parse('2026-03-01T00:00:00Z');
    const now = at + 7 * 86400_000 + 500;
    const t = timeline(cron, at, now);
    expect(t.latest).to.equal(now - 500);
    expect(t.next).to.equal(now + 500);
    expect(t.passed).to.be.greaterThan(1_000);
  });
});

describe('scheduler: bad input through the service', () => {
  let b: Booted;
  before(async () => { b = await boot({ backend: 'memory', clock: new TestClock(NOW) }); });
  after(async () => { await b.close(); cleanupTempProjects(); });

  it('refuses a bad trigger with NUVOM_E_SCHEDULE_INVALID and stores nothing', async () => {
    for (const trigger of [{ cron: 'nope' }, { everySecs: 0 }, { at: 'soon' }, { inSecs: 1, at: NOW + 1000 }, { inSecs: 1e13 }, { at: 1e20 }, { at: 9e15 }, { inSecs: 1e300 }, { at: 1e20, key: 'far' }]) {
      const err = await b.schedule(ping, trigger as never).catch((e) => e);
      expect(isNuvomError(err, 'NUVOM_E_SCHEDULE_INVALID'), String(err)).to.equal(true);
      expect(err.message).to.contain('task "sched.ping".schedule()');
    }
    expect(await b.scheduler.list({ includeFinished: true })).to.deep.equal([]);
  });

  it('refuses arguments the serializer cannot encode, naming the argument, and stores nothing', async () => {
    const err = await b.schedule(ping, { everySecs: 60 }, () => 1).catch((e) => e);
    expect(isNuvomError(err, 'NUVOM_E_UNSERIALIZABLE'), String(err)).to.equal(true);
    expect(err.message).to.contain('argument 1').and.contain('nothing was scheduled');
    expect(await b.scheduler.list({ includeFinished: true })).to.deep.equal([]);
  });

  it('returns the id and the first fire time as ISO-8601', async () => {
    const h = await b.schedule(ping, { inSecs: 90 });
    expect(h.nextRunAt).to.equal(iso(NOW + 90_000));
    expect((await b.scheduler.list()).map((e) => e.id)).to.include(h.id);
  });
});
