/**
 * The schedule store conformance cases (kernel/contracts.ts `ScheduleStore`): add/get/list/cancel,
 * and claimDue, which must hand each fire time to exactly one caller. `now` is always passed. The
 * optional parts (holds: settle/reclaimHeld; keyed schedules: upsert) are checked where a store has them.
 * Must never: assert the order of list() or of one claimDue's result, which the contract leaves open.
 */
import assert from 'node:assert/strict';
import type { ScheduleEntry, ScheduleStore } from '../plugin.ts';
import { bytesOf, makeScheduleEntry, type ConformanceCase } from './fixtures.ts';

export interface ScheduleStoreCaseContext {
  store: ScheduleStore;
}

const MINUTE = 60_000;

/** An advance function that records its calls and moves each entry one minute past its fire time. */
function everyMinute(): { advance: (entry: ScheduleEntry) => number | null; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    advance(entry) {
      seen.push(entry.id);
      assert.ok(entry.nextRunAt !== null, 'advance was given an entry without nextRunAt');
      return entry.nextRunAt + MINUTE;
    },
  };
}

const comparable = (entry: ScheduleEntry) => ({ ...entry, args: bytesOf(entry.args) });
const idSet = (entries: Array<{ id: string }>) => new Set(entries.map((e) => e.id));

export const scheduleStoreCases: readonly ConformanceCase<ScheduleStoreCaseContext>[] = Object.freeze([
  {
    name: 'add then get round-trips the entry (args bytes, options, trigger fields)',
    async run({ store }) {
      const t0 = Date.now();
      const interval = makeScheduleEntry({ priority: 3, nextRunAt: t0 + MINUTE, args: new Uint8Array([0, 255, 7, 128]) });
      const cron = makeScheduleEntry({
        kind: 'cron', everySecs: null, cron: '0 9 * * MON', timezone: 'Europe/Berlin', misfire: 'catchup',
        lastRunAt: t0 - MINUTE, options: { ...interval.options, tags: ['weekly'], maxRetries: 2 },
      });
      const once = makeScheduleEntry({ kind: 'once', everySecs: null });
      for (const e of [interval, cron, once]) await store.add(e);
      for (const e of [interval, cron, once]) {
        const got = await store.get(e.id);
        assert.ok(got, `get(${e.id}) returned null`);
        assert.ok(got.args instanceof Uint8Array);
        assert.deepEqual(comparable(got), comparable(e));
      }
    },
  },
  {
    name: 'get of an unknown id is null',
    async run({ store }) {
      assert.equal(await store.get('no-such-schedule'), null);
    },
  },
  {
    name: 'list returns the active entries',
    async run({ store }) {
      const entries = [makeScheduleEntry(), makeScheduleEntry(), makeScheduleEntry()];
      for (const e of entries) await store.add(e);
      const listed = await store.list();
      assert.deepEqual(idSet(listed), idSet(entries));
      for (const e of listed) assert.equal(e.status, 'ACTIVE');
    },
  },
  {
    name: 'cancel marks an active entry CANCELLED once; list shows it only with includeFinished',
    async run({ store }) {
      const keep = makeScheduleEntry();
      const drop = makeScheduleEntry();
      await store.add(keep);
      await store.add(drop);
      assert.equal(await store.cancel(drop.id), true);
      assert.equal(await store.cancel(drop.id), false, 'a second cancel is not a cancel');
      assert.equal(await store.cancel('no-such-schedule'), false);
      assert.equal((await store.get(drop.id))?.status, 'CANCELLED');
      assert.deepEqual(idSet(await store.list()), idSet([keep]));
      assert.deepEqual(idSet(await store.list({ includeFinished: true })), idSet([keep, drop]));
    },
  },
  {
    name: 'claimDue returns only due entries (nextRunAt <= now), calls advance once each, and moves nextRunAt',
    async run({ store }) {
      const t0 = Date.now();
      const overdue = makeScheduleEntry({ nextRunAt: t0 - 1000 });
      const exact = makeScheduleEntry({ nextRunAt: t0 });
      const future = makeScheduleEntry({ nextRunAt: t0 + 1 });
      for (const e of [overdue, exact, future]) await store.add(e);
      const { advance, seen } = everyMinute();
      const fires = await store.claimDue(t0, advance);
      assert.deepEqual(idSet(fires.map((f) => f.entry)), idSet([overdue, exact]));
      assert.deepEqual(new Set(seen), idSet([overdue, exact]));
      assert.equal(seen.length, 2, 'advance called once per due entry');
      for (const fire of fires) {
        const original = fire.entry.id === overdue.id ? overdue : exact;
        assert.equal(fire.fireAt, original.nextRunAt, 'fireAt is the fire time that was due');
        assert.equal(fire.entry.taskName, original.taskName);
        assert.deepEqual(bytesOf(fire.entry.args), bytesOf(original.args));
        const stored = await store.get(original.id);
        assert.equal(stored?.nextRunAt, original.nextRunAt! + MINUTE);
        assert.equal(stored?.status, 'ACTIVE');
      }
      assert.equal((await store.get(future.id))?.nextRunAt, future.nextRunAt, 'an entry not due was moved');
    },
  },
  {
    name: 'a second claimDue at the same now gets nothing: each fire time is won once',
    async run({ store }) {
      const t0 = Date.now();
      const e = makeScheduleEntry({ nextRunAt: t0 - 1 });
      await store.add(e);
      assert.equal((await store.claimDue(t0, everyMinute().advance)).length, 1);
      const second = everyMinute();
      assert.deepEqual(await store.claimDue(t0, second.advance), []);
      assert.deepEqual(second.seen, [], 'advance was called for an entry that was not due');
      const next = await store.claimDue(t0 - 1 + MINUTE, everyMinute().advance);
      assert.deepEqual(next.map((f) => f.fireAt), [t0 - 1 + MINUTE], 'the next fire time is due at its time');
    },
  },
  {
    name: 'concurrent claimDue calls never both win one fire time',
    async run({ store }) {
      const t0 = Date.now();
      const entries = Array.from({ length: 20 }, (_, n) => makeScheduleEntry({ nextRunAt: t0 - 1000 - n }));
      for (const e of entries) await store.add(e);
      const results = await Promise.all(Array.from({ length: 4 }, () => store.claimDue(t0, everyMinute().advance)));
      const wins = results.flat().map((f) => `${f.entry.id}@${f.fireAt}`);
      assert.equal(new Set(wins).size, wins.length, 'one fire time was won twice');
      assert.equal(wins.length, 20, 'every due fire time is won once');
    },
  },
  {
    name: 'claimDue honours limit',
    async run({ store }) {
      const t0 = Date.now();
      for (let n = 0; n < 5; n++) await store.add(makeScheduleEntry({ nextRunAt: t0 - 1000 + n }));
      const won: string[] = [];
      for (const expected of [2, 2, 1, 0]) {
        const fires = await store.claimDue(t0, everyMinute().advance, 2);
        assert.equal(fires.length, expected);
        won.push(...fires.map((f) => f.entry.id));
      }
      assert.equal(new Set(won).size, 5);
    },
  },
  {
    name: 'advance returning null marks the entry DONE: not due again, listed only with includeFinished',
    async run({ store }) {
      const t0 = Date.now();
      const once = makeScheduleEntry({ kind: 'once', everySecs: null, nextRunAt: t0 - 1000 });
      await store.add(once);
      const fires = await store.claimDue(t0, () => null);
      assert.deepEqual(fires.map((f) => [f.entry.id, f.fireAt]), [[once.id, t0 - 1000]]);
      const stored = await store.get(once.id);
      assert.equal(stored?.status, 'DONE');
      assert.equal(stored?.nextRunAt, null);
      assert.deepEqual(await store.claimDue(t0 + 365 * 24 * 3600_000, everyMinute().advance), []);
      assert.deepEqual(await store.list(), []);
      assert.deepEqual(idSet(await store.list({ includeFinished: true })), idSet([once]));
    },
  },
  {
    name: 'a cancelled entry is never due',
    async run({ store }) {
      const t0 = Date.now();
      const e = makeScheduleEntry({ nextRunAt: t0 - 1000 });
      await store.add(e);
      await store.cancel(e.id);
      const { advance, seen } = everyMinute();
      assert.deepEqual(await store.claimDue(t0 + MINUTE, advance), []);
      assert.deepEqual(seen, []);
    },
  },
  {
    name: 'with holdMs, a fire claimed for a job is held until settled, and reclaimHeld hands an expired hold out once',
    async run({ store }) {
      if (!store.settle || !store.reclaimHeld) return;
      const t0 = Date.now();
      const kept = makeScheduleEntry({ nextRunAt: t0 - 1000 });
      const done = makeScheduleEntry({ nextRunAt: t0 - 2000 });
      const none = makeScheduleEntry({ nextRunAt: t0 - 3000 });
      for (const e of [kept, done, none]) await store.add(e);
      const fires = await store.claimDue(t0, (e) => ({ next: e.nextRunAt! + MINUTE, fire: e.id === none.id ? null : e.nextRunAt }), 100, { holdMs: 5000 });
      assert.equal(fires.length, 3);
      const byId = new Map(fires.map((f) => [f.entry.id, f]));
      assert.equal(byId.get(none.id)?.hold, undefined, 'a fire with no job must not be held');
      assert.equal(byId.get(kept.id)?.fireFor, kept.nextRunAt);
      assert.ok(byId.get(kept.id)?.hold && byId.get(done.id)?.hold, 'fires with a job are held');
      await store.settle([byId.get(done.id)!.hold!]);
      assert.deepEqual(await store.reclaimHeld(t0 + 4999, 5000), [], 'a hold was handed out before it ran out');
      const owed = await store.reclaimHeld(t0 + 5000, 5000);
      assert.deepEqual(owed.map((f) => [f.entry.id, f.fireAt, f.fireFor, f.hold]), [[kept.id, kept.nextRunAt, kept.nextRunAt, byId.get(kept.id)!.hold]]);
      assert.equal(owed[0].entry.taskName, kept.taskName);
      assert.deepEqual(bytesOf(owed[0].entry.args), bytesOf(kept.args));
      assert.deepEqual(await store.reclaimHeld(t0 + 5000, 5000), [], 'one expired hold was handed out twice');
      await store.settle([owed[0].hold!]);
      assert.deepEqual(await store.reclaimHeld(t0 + 60_000, 5000), [], 'a settled hold came back');
      assert.deepEqual(idSet(await store.list({ includeFinished: true })), idSet([kept, done, none]), 'list shows holds');
    },
  },
  {
    name: 'upsert adds an entry, then replaces the entry with the same id (one entry, the new trigger and arguments)',
    async run({ store }) {
      if (!store.upsert) return;
      const t0 = Date.now();
      const first = makeScheduleEntry({ id: `key:conformance-${Math.random().toString(36).slice(2)}`, nextRunAt: t0 + MINUTE, args: new Uint8Array([1]) });
      first.key = first.id.slice(4);
      await store.upsert(first);
      const second: ScheduleEntry = { ...first, kind: 'cron', everySecs: null, cron: '0 * * * *', timezone: 'UTC', nextRunAt: t0 + 2 * MINUTE, args: new Uint8Array([2, 3]) };
      await store.upsert(second);
      const got = await store.get(first.id);
      assert.ok(got);
      assert.deepEqual(comparable(got), comparable(second));
      assert.equal((await store.list()).filter((e) => e.id === first.id).length, 1, 'the key has two entries');
      assert.equal(await store.cancel(first.id), true);
      await store.upsert(second);
      assert.equal((await store.get(first.id))?.status, 'ACTIVE', 'an upsert brings a cancelled entry back');
    },
  },
]);
