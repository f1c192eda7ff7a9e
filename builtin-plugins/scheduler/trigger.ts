/**
 * Triggers: checks what `task.schedule(trigger, ...)` was given, and computes fire times on a
 * schedule's own timeline (cron through cron-parser, in IANA time zones, DST included).
 * Must never: read the wall clock (callers pass `now`), or accept a trigger whose first fire time it
 * cannot compute: everything wrong is refused at schedule time, not found out at fire time.
 */
import { createRequire } from 'node:module';
import type { CronExpressionParser } from 'cron-parser';
import { LATEST_RUN_AT, NuvomError, type MisfirePolicy, type ScheduleEntry, type Trigger } from '../../sdk/plugin.ts';

/** The kernel's `Trigger` (which lists `misfire` on everySecs and cron), under its former name here. */
export type ScheduleTrigger = Trigger;

/** A checked trigger, as a schedule entry keeps it. */
export interface TriggerSpec {
  kind: ScheduleEntry['kind'];
  everySecs: number | null;
  cron: string | null;
  timezone: string | null;
  misfire: MisfirePolicy;
  /** Epoch ms of the first fire time (may be <= now for `at` in the past: it runs at the next poll). */
  firstRunAt: number;
}

const TIME_KEYS = ['at', 'inSecs', 'everySecs', 'cron'] as const;
const ALL_KEYS = [...TIME_KEYS, 'timezone', 'misfire'];
const SHAPES = '{ at }, { inSecs }, { everySecs } or { cron, timezone? }';
/** Epoch ms below this (March 1973) are almost surely epoch seconds passed by mistake. */
const MIN_EPOCH_MS = 1e11;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
/** How many cron fire times a catch-up walks before jumping straight to `now`. */
const MAX_CRON_STEPS = 1_000;

function invalid(label: string, why: string): NuvomError {
  return new NuvomError('NUVOM_E_SCHEDULE_INVALID', `${label}: ${why}`);
}

// NaN and Infinity as themselves (JSON would say null).
const show = (v: unknown): string => (v instanceof Date ? `Date(${String(v)})` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v));
/**
 * The shortest interval a schedule may have: the scheduler looks once a second by default, so a
 * shorter one would miss fire times on every pass (a misfire warning each time); and the longest
 * (its runs stay before year 10000).
 */
const MIN_EVERY_SECS = 1;
const MAX_EVERY_SECS = 100 * 365 * 86_400;
/** The earliest fire time accepted (the latest is LATEST_RUN_AT, as the dispatcher's): a Date's own limit (an `at` this far in the past would make no valid job id). */
const FIRST_FIRE_MS = -8.64e15;

/**
 * Date.parse rolls an impossible day or hour over ("2038-02-30" is March 2, "T24:00" the next day):
 * refused, as a typo must not fire on another day.
 */
function checkCalendar(v: string, label: string): void {
  const [, y, mo, d, h, mi, se = '0'] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v) ?? [];
  if (y === undefined) return;
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > days || Number(h) > 23 || Number(mi) > 59 || Number(se) > 59) {
    throw invalid(label, `at: ${show(v)} names a date or time that does not exist (${Number(mo) >= 1 && Number(mo) <= 12 ? `${y}-${mo} has ${days} days; ` : 'months go 01-12; '}hours go 00-23, minutes and seconds 00-59)`);
  }
}

/** Epoch ms of an `at` value; refuses what would be silently misread. */
function atOf(v: unknown, label: string): number {
  let t = NaN;
  if (v instanceof Date) t = v.getTime();
  else if (typeof v === 'number') {
    if (Number.isFinite(v) && Math.abs(v) < MIN_EPOCH_MS) {
      throw invalid(label, `at: ${v} looks like epoch seconds; "at" takes epoch milliseconds (${v * 1000}), a Date or an ISO-8601 string`);
    }
    t = v;
  } else if (typeof v === 'string') {
    if (!ISO_WITH_ZONE.test(v.trim())) {
      throw invalid(label, `at: ${show(v)} is not an ISO-8601 time with a zone; write it like "2038-01-19T03:14:07Z" or "2038-01-19T04:14:07+01:00" (a time without Z or an offset would be read in this machine's zone)`);
    }
    t = Date.parse(v.trim());
    checkCalendar(v.trim(), label);
  } else {
    throw invalid(label, `at must be a Date, epoch milliseconds or an ISO-8601 string, got ${show(v)}`);
  }
  if (!Number.isFinite(t) || t < FIRST_FIRE_MS) throw invalid(label, `at: ${show(v)} is not a valid time`);
  if (t > LATEST_RUN_AT) throw invalid(label, `at: ${show(v)} is past year 9999; give a time before 10000-01-01`);
  // Whole epoch milliseconds, as every run time (PostgreSQL stores them as bigint: a fraction was a
  // 22P02 error there, and SQLite took it): rounded up, never fired early.
  return Math.ceil(t);
}

/** The zone as given, when ICU knows it; an offset or a typo is refused with examples. */
export function checkTimezone(tz: unknown, label: string): string {
  if (typeof tz !== 'string' || tz.trim() === '') {
    throw invalid(label, `timezone must be an IANA time zone name such as "Europe/Berlin", got ${show(tz)}`);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw invalid(label, `timezone ${show(tz)} is not an IANA time zone name; use one such as "Europe/Berlin", "America/New_York" or "UTC"`);
  }
  return tz;
}

let cronParser: typeof CronExpressionParser | undefined;

/** cron-parser (and luxon under it) loads with the first cron expression: most processes parse none. */
function cronParserClass(): typeof CronExpressionParser {
  cronParser ??= (createRequire(import.meta.url)('cron-parser') as typeof import('cron-parser')).CronExpressionParser;
  return cronParser;
}

function parseCron(expr: string, tz: string, currentDate: number, seed: string) {
  // hashSeed: an "H" field must pick the same minute every time this schedule is evaluated.
  return cronParserClass().parse(expr, { currentDate: new Date(currentDate), tz, hashSeed: seed });
}

/** Checks a cron expression's shape and syntax; the parser's own message says what is wrong. */
function checkCron(expr: unknown, tz: string, now: number, seed: string, label: string): { cron: string; first: number } {
  if (typeof expr !== 'string' || expr.trim() === '') {
    throw invalid(label, `cron must be a non-empty string such as "0 9 * * MON", got ${show(expr)}`);
  }
  const cron = expr.trim().replace(/\s+/g, ' ');
  if (/^@reboot$/i.test(cron)) {
    throw invalid(label, 'cron "@reboot" is not supported: a schedule fires at times, not when a process starts; run the task from your app\'s startup code, or schedule it with { inSecs: 0, key } there');
  }
  const fields = cron.split(' ').length;
  if (!cron.startsWith('@') && fields !== 5 && fields !== 6) {
    throw invalid(label, `cron expression ${show(expr)} has ${fields} field(s); expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`);
  }
  let first: number | null;
  try {
    first = parseCron(cron, tz, now, seed).next().getTime();
  } catch (err) {
    throw invalid(label, `invalid cron expression ${show(expr)}: ${(err as Error).message}`);
  }
  if (!Number.isFinite(first) || first > LATEST_RUN_AT) throw invalid(label, `cron expression ${show(expr)} never fires before year 10000`);
  return { cron, first };
}

/**
 * Validates a trigger and computes its first fire time. `seed` (the schedule id) fixes "H" fields.
 * Besides the four shapes, `misfire: 'skip' | 'catchup'` is accepted on everySecs and cron triggers.
 */
export function parseTrigger(trigger: unknown, now: number, seed: string, label: string): TriggerSpec {
  if (trigger === null || typeof trigger !== 'object' || Array.isArray(trigger) || trigger instanceof Date) {
    throw invalid(label, `a trigger must be an object, one of ${SHAPES}; got ${show(trigger)}`);
  }
  const t = trigger as Record<string, unknown>;
  const present = Object.keys(t).filter((k) => t[k] !== undefined);
  const unknown = present.filter((k) => !ALL_KEYS.includes(k));
  if (unknown.length) {
    throw invalid(label, `unknown trigger key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; a trigger is one of ${SHAPES}, plus misfire: 'skip' | 'catchup' on everySecs and cron`);
  }
  const times = TIME_KEYS.filter((k) => present.includes(k));
  if (times.length === 0) throw invalid(label, `the trigger names no time; give exactly one of ${SHAPES}, e.g. { everySecs: 60 }`);
  if (times.length > 1) throw invalid(label, `the trigger names ${times.length} times (${times.join(', ')}); give exactly one of ${SHAPES}`);
  const kind = times[0];
  if (t.timezone !== undefined && kind !== 'cron') {
    throw invalid(label, `timezone applies to cron triggers only; ${kind} times are absolute (give "at" with a Z or an offset instead)`);
  }
  let misfire: MisfirePolicy = 'skip';
  if (t.misfire !== undefined) {
    if (kind === 'at' || kind === 'inSecs') {
      throw invalid(label, `misfire applies to everySecs and cron triggers; a one-off (${kind}) always runs once, however late`);
    }
    if (t.misfire !== 'skip' && t.misfire !== 'catchup') throw invalid(label, `misfire must be 'skip' or 'catchup', got ${show(t.misfire)}`);
    misfire = t.misfire;
  }
  const base = { everySecs: null, cron: null, timezone: null, misfire };
  switch (kind) {
    case 'at':
      return { ...base, kind: 'once', firstRunAt: atOf(t.at, label) };
    case 'inSecs': {
      const s = t.inSecs;
      if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) throw invalid(label, `inSecs must be a number of seconds >= 0, got ${show(s)}`);
      const first = now + Math.round(s * 1000);
      if (!(first <= LATEST_RUN_AT)) throw invalid(label, `inSecs ${show(s)} puts the first run past year 9999; give a shorter delay`);
      return { ...base, kind: 'once', firstRunAt: first };
    }
    case 'everySecs': {
      const s = t.everySecs;
      if (typeof s !== 'number' || !Number.isFinite(s) || s < MIN_EVERY_SECS || s > MAX_EVERY_SECS) {
        throw invalid(label, `everySecs must be a number of seconds from ${MIN_EVERY_SECS} to ${MAX_EVERY_SECS} (100 years), got ${show(s)}`);
      }
      return { ...base, kind: 'interval', everySecs: s, firstRunAt: now + intervalMs(s) };
    }
    case 'cron': {
      const timezone = t.timezone === undefined ? 'UTC' : checkTimezone(t.timezone, label);
      const { cron, first } = checkCron(t.cron, timezone, now, seed, label);
      return { ...base, kind: 'cron', cron, timezone, firstRunAt: first };
    }
  }
}

export function intervalMs(everySecs: number): number {
  return Math.max(1, Math.round(everySecs * 1000));
}

/** Where a recurring entry stands after the fire time it was claimed at. */
export interface Timeline {
  /** The most recent fire time <= now on the entry's timeline (the claimed one when it is the only one). */
  latest: number;
  /** How many fire times are <= now, counting the claimed one (1 when on time). */
  passed: number;
  /** The first fire time after now, or null when the expression has no more. */
  next: number | null;
  /** Set when the walk stopped counting at MAX_CRON_STEPS: more than that many fire times passed. */
  capped?: true;
}

/**
 * The entry's timeline from its claimed fire time `fireAt` to `now`: the next fire time is the
 * previous one plus the interval (or the cron's next), never `now` plus the interval, so a late poll
 * does not shift the schedule. Cron is walked from the fire time, not from now: in a repeated
 * fall-back hour a walk from now would find "01:30" a second time.
 */
export function timeline(entry: Pick<ScheduleEntry, 'id' | 'kind' | 'everySecs' | 'cron' | 'timezone'>, fireAt: number, now: number): Timeline {
  if (entry.kind === 'interval') {
    const p = intervalMs(entry.everySecs ?? NaN);
    if (!Number.isFinite(p)) throw new Error(`interval schedule ${entry.id} has no everySecs`);
    const m = Math.max(1, Math.floor((now - fireAt) / p) + 1);
    return { latest: fireAt + (m - 1) * p, passed: m, next: fireAt + m * p };
  }
  if (entry.kind === 'cron') {
    if (!entry.cron) throw new Error(`cron schedule ${entry.id} has no expression`);
    const tz = entry.timezone ?? 'UTC';
    const it = parseCron(entry.cron, tz, fireAt, entry.id);
    let latest = fireAt;
    let passed = 1;
    for (;;) {
      const next = step(() => it.next().getTime());
      if (next === null || next > now) return { latest, passed, next };
      latest = next;
      passed += 1;
      if (passed > MAX_CRON_STEPS) {
        // A long outage on a frequent cron: jump to now rather than walk every missed time.
        const behind = step(() => parseCron(entry.cron!, tz, now + 1, entry.id).prev().getTime());
        return { latest: behind ?? latest, passed, capped: true, next: step(() => parseCron(entry.cron!, tz, now, entry.id).next().getTime()) };
      }
    }
  }
  return { latest: fireAt, passed: 1, next: null };
}

/** cron-parser throws when no fire time is left within its search limit: that is "no next", not a crash. */
function step(fn: () => number): number | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

/** A trigger as one line: "once", "every 300s", "cron 0 9 * * MON (Europe/Berlin)", with ", catchup" when set. */
export function describeTrigger(e: Pick<ScheduleEntry, 'kind' | 'everySecs' | 'cron' | 'timezone' | 'misfire'>): string {
  const misfire = e.misfire === 'catchup' ? ', catchup' : '';
  if (e.kind === 'interval') return `every ${e.everySecs}s${misfire}`;
  if (e.kind === 'cron') return `cron ${e.cron} (${e.timezone ?? 'UTC'}${misfire})`;
  return 'once';
}
