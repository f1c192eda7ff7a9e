/**
 * The scheduler: keeps schedules (arguments encoded by the serializer, as jobs keep them) and turns
 * due fire times into jobs. A fire time is won through the schedule store's claimDue, which moves the
 * entry to its next fire time in the same compare-and-set, so several schedulers on one store make
 * one job per fire time. The job carries the options fixed from the task when it was scheduled.
 * Exactly once per fire time across crashes: the claim also writes a hold (two-phase claim, stores
 * with settle/reclaimHeld), settled only once the job is enqueued; a hold whose scheduler died is
 * reclaimed after holdSecs, and the job is made unless its (deterministic) id already exists.
 * Must never: let one bad entry (unknown task, undecodable arguments, a refused enqueue) stop a pass
 * or the loop, settle a hold whose job was not enqueued, or compute a recurring entry's next fire time
 * from `now` (that drifts).
 */
import { randomUUID } from 'node:crypto';
import {
  NuvomError, iso, isNuvomError, jobOptions, messageOf,
  type Clock, type DueFire, type JobsService, type Logger, type NuvomConfig, type RegistryService, type ScheduleEntry,
  type ScheduleHandle, type SchedulerService, type ScheduleStore, type Serializer, type TaskOptionsSnapshot, type Trigger,
} from '../../sdk/plugin.ts';
import { at, firesInTransaction, jobIdOf, keepTimeline, keyOf, KEY_RE, planFire, type Plan } from './entries.ts';
import { parseTrigger } from './trigger.ts';

export interface SchedulerDeps {
  config: NuvomConfig;
  clock: Clock;
  logger: Logger;
  serializer: Serializer;
  scheduleStore: ScheduleStore;
  jobs: JobsService;
  registry: RegistryService;
  /**
   * The job store is the schedule store's pair (one plugin, one database): a store with
   * claimDueInTransaction then claims a fire time and enqueues its job in one transaction.
   */
  pairedJobStore?: boolean;
}

export interface SchedulerTuning {
  /**
   * misfire 'skip': a recurring entry's latest passed fire time still runs when it is at most this
   * late (default 60 s; a running loop widens it to twice its poll interval).
   */
  graceSecs?: number;
  /** A one-off whose task is unknown is looked at again after this long (default 60 s). */
  missingRetrySecs?: number;
  /** Fire times claimed per store round trip (default 100); a pass claims until fewer come back. */
  batch?: number;
  /**
   * A claimed fire whose job is not enqueued (the scheduler died, or the enqueue failed) is handed
   * out again after this long (default 30 s).
   */
  holdSecs?: number;
}

/** A test hook: SIGKILL this process at that point of a pass (test/reliability/scheduler-crash.test.ts). */
const KILL_AT = process.env.NUVOM_TEST_SCHEDULER_KILL;

export interface RunHandle {
  stop(): Promise<void>;
  done: Promise<void>;
}

const MAX_ROUNDS = 100;
/** Node's longest timer: a longer one fires after 1 ms (TimeoutOverflowWarning), a busy loop. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const REFRESH_MS = 10_000;
const REPEAT_LOG_MS = 60_000;

export class Scheduler implements SchedulerService {
  private readonly log: Logger;
  private graceMs: number;
  private readonly missingRetryMs: number;
  private readonly batch: number;
  private readonly holdMs: number;
  /** Entry ids whose unknown task was reported (once each). */
  private readonly missing = new Set<string>();
  private lastRefresh = -Infinity;
  private readonly loops = new Set<RunHandle>();
  private readonly lastLogged = new Map<string, number>();

  constructor(private readonly d: SchedulerDeps, tuning: SchedulerTuning = {}) {
    this.log = d.logger;
    this.graceMs = (tuning.graceSecs ?? 60) * 1000;
    this.missingRetryMs = (tuning.missingRetrySecs ?? 60) * 1000;
    this.batch = tuning.batch ?? 100;
    this.holdMs = (tuning.holdSecs ?? 30) * 1000;
  }

  async schedule(task: { name: string; options: TaskOptionsSnapshot }, trigger: Trigger, args: unknown[]): Promise<ScheduleHandle> {
    const name = task?.name;
    if (typeof name !== 'string' || name.trim() === '') {
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `schedule() needs a task with a name, got ${JSON.stringify(name)}`);
    }
    const label = `task "${name}".schedule()`;
    if (!Array.isArray(args)) throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `${label}: the arguments must be a list`);
    const key = keyOf(trigger, label);
    // A keyed schedule's id is derived from its key: one row per key, and no new column.
    const id = key === null ? randomUUID() : `key:${key}`;
    const now = this.d.clock.now();
    const { key: _key, ...shape } = (trigger ?? {}) as Trigger & { key?: unknown };
    const spec = parseTrigger(key === null ? trigger : shape, now, id, label);
    let encoded: Uint8Array;
    try {
      encoded = this.d.serializer.encode(args);
    } catch (err) {
      const m = messageOf(err).replace(/^value\[(\d+)\]/, (_s, n) => `argument ${Number(n) + 1} (args[${n}])`);
      throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${label}: ${m}; nothing was scheduled`, { cause: err });
    }
    const options = task.options ?? {};
    const entry: ScheduleEntry = {
      id,
      taskName: name,
      args: encoded,
      priority: options.priority ?? 0,
      options: jobOptions(options, {}, this.d.config),
      kind: spec.kind,
      everySecs: spec.everySecs,
      cron: spec.cron,
      timezone: spec.timezone,
      misfire: spec.misfire,
      nextRunAt: spec.firstRunAt,
      lastRunAt: null,
      status: 'ACTIVE',
      createdAt: now,
    };
    if (key === null) {
      // Everything the answer needs is computed before the entry is stored: a refusal stores nothing.
      const handle = { id, nextRunAt: iso(spec.firstRunAt) };
      await this.d.scheduleStore.add(entry);
      this.log.debug(`schedule ${id} (task "${name}") added; first fire time ${at(spec.firstRunAt)}`, { schedule: id });
      return handle;
    }
    entry.key = key;
    const store = this.d.scheduleStore;
    if (!store.upsert) {
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `${label}: the schedule store in use cannot replace a schedule, so a key cannot be honoured; drop "key" or use a store with upsert() (sqlite, memory)`);
    }
    const prior = await store.get(id);
    // A key names one schedule, not one per task: replacing another task's would drop its jobs silently.
    if (prior && prior.status === 'ACTIVE' && prior.taskName !== name) {
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `${label}: key "${key}" is held by an active schedule of task "${prior.taskName}" (${id}); cancel that one first (\`nuvom schedule cancel ${key}\`) or use another key; nothing was scheduled`);
    }
    const kept = keepTimeline(prior, entry, trigger);
    if (kept) Object.assign(entry, kept);
    const handle = { id, key, nextRunAt: iso(entry.nextRunAt) };
    await store.upsert(entry);
    this.log.debug(`schedule ${id} (task "${name}") ${prior ? 'replaced' : 'added'}; next fire time ${at(entry.nextRunAt)}`, { schedule: id });
    return handle;
  }

  list(opts?: { includeFinished?: boolean }): Promise<ScheduleEntry[]> {
    return this.d.scheduleStore.list(opts);
  }

  /** Cancels by id or by key (an id is tried first: a key never looks like a UUID). */
  async cancel(idOrKey: string): Promise<boolean> {
    if (typeof idOrKey !== 'string' || idOrKey === '') return false;
    if (await this.d.scheduleStore.cancel(idOrKey)) return true;
    return !idOrKey.startsWith('key:') && KEY_RE.test(idOrKey) && this.d.scheduleStore.cancel(`key:${idOrKey}`);
  }

  /** The stored schedule with this id or key, or null. */
  async find(idOrKey: string): Promise<ScheduleEntry | null> {
    if (typeof idOrKey !== 'string' || idOrKey === '') return null;
    return (await this.d.scheduleStore.get(idOrKey))
      ?? (!idOrKey.startsWith('key:') && KEY_RE.test(idOrKey) ? this.d.scheduleStore.get(`key:${idOrKey}`) : null);
  }

  /** One pass at `now`: claims every due fire time (in batches) and makes the jobs; returns how many. */
  async tick(now: number = this.d.clock.now()): Promise<number> {
    if (!this.registryReadable(now)) return 0;
    const store = this.d.scheduleStore;
    const twoPhase = typeof store.settle === 'function' && typeof store.reclaimHeld === 'function';
    let made = 0;
    // First the fires a dead (or failed) pass claimed but did not enqueue: they are owed.
    for (let round = 0; twoPhase && round < MAX_ROUNDS; round++) {
      const owed = await store.reclaimHeld!(now, this.holdMs, this.batch);
      const settled: string[] = [];
      for (const fire of owed) made += await this.recover(fire, settled);
      await store.settle!(settled);
      if (owed.length < this.batch) break;
    }
    let inTx = this.d.pairedJobStore ? firesInTransaction(store) : null;
    const skip = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const plans = new Map<string, Plan>();
      const advance = (entry: ScheduleEntry) => {
        const plan = this.plan(entry, now);
        plans.set(entry.id, plan);
        return { next: plan.next, fire: plan.fireFor };
      };
      if (inTx) {
        // One transaction: the claim and the job commit together, or (a kill, a lost connection) neither.
        const outcomes = new Map<string, 'made' | 'none' | 'retry'>();
        const res = await inTx.claimDueInTransaction(now, advance, this.batch, async (tx, fire) => {
          if (KILL_AT === 'after-claim') process.kill(process.pid, 'SIGKILL');
          const plan = plans.get(fire.entry.id) ?? { next: fire.entry.nextRunAt, fireFor: fire.fireFor ?? fire.fireAt, missing: false, note: null };
          const outcome = await this.dispatch(fire.entry, plan, tx);
          if (outcome === 'retry') skip.add(fire.entry.id);
          outcomes.set(fire.entry.id, outcome);
          if (KILL_AT === 'after-enqueue' && outcome === 'made') process.kill(process.pid, 'SIGKILL');
          return outcome;
        }, skip);
        if (res !== null) {
          made += res.fires.filter((f) => outcomes.get(f.entry.id) === 'made').length;
          if (res.claimed < this.batch) break;
          continue;
        }
        inTx = null; // the store cannot here: two-phase holds
      }
      const fires = await store.claimDue(now, advance, this.batch, twoPhase ? { holdMs: this.holdMs } : undefined);
      if (KILL_AT === 'after-claim' && fires.length > 0) process.kill(process.pid, 'SIGKILL');
      const settled: string[] = [];
      for (const fire of fires) {
        const plan = plans.get(fire.entry.id) ?? { next: fire.entry.nextRunAt, fireFor: fire.fireFor ?? fire.fireAt, missing: false, note: null };
        const outcome = await this.dispatch(fire.entry, plan);
        if (outcome === 'made') made += 1;
        if (fire.hold !== undefined && outcome !== 'retry') settled.push(fire.hold);
        if (KILL_AT === 'after-enqueue' && outcome === 'made') process.kill(process.pid, 'SIGKILL');
      }
      if (twoPhase) await store.settle!(settled);
      if (fires.length < this.batch) break;
    }
    return made;
  }

  /** A reclaimed hold: its job is made unless the job with its id already exists (the pass died after the enqueue). */
  private async recover(fire: DueFire, settled: string[]): Promise<number> {
    const fireFor = fire.fireFor ?? fire.fireAt;
    const jobId = jobIdOf(fire.entry.id, fireFor);
    const who = `schedule ${fire.entry.id} (task "${fire.entry.taskName}")`;
    if (await this.d.jobs.getJob(jobId)) {
      settled.push(fire.hold!);
      return 0;
    }
    this.log.warn(`${who}: the fire time ${new Date(fireFor).toISOString()} was claimed but its job not enqueued (a scheduler stopped in between, or the enqueue failed); enqueueing it now`, { schedule: fire.entry.id });
    const outcome = await this.dispatch(fire.entry, { next: fire.entry.nextRunAt, fireFor, missing: false, note: null });
    if (outcome !== 'retry') settled.push(fire.hold!);
    return outcome === 'made' ? 1 : 0;
  }

  /** Passes every pollSecs (default 1) until stop(); a failing pass is logged and the loop goes on. */
  run(opts: { pollSecs?: number } = {}): RunHandle {
    const pollSecs = opts.pollSecs ?? 1;
    if (typeof pollSecs !== 'number' || !Number.isFinite(pollSecs) || pollSecs <= 0) {
      throw new NuvomError('NUVOM_E_USAGE', `the scheduler's poll interval must be a number of seconds > 0, got ${JSON.stringify(pollSecs)}`);
    }
    const pollMs = pollSecs * 1000;
    // A fire time found one poll late is on time, not a misfire.
    this.graceMs = Math.max(this.graceMs, 2 * pollMs);
    let stopping = false;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const loop = async (): Promise<void> => {
      this.log.info(`scheduler loop started: a pass every ${pollSecs}s`);
      while (!stopping) {
        try {
          const made = await this.tick();
          if (made > 0) this.log.info(`scheduler: ${made} job(s) made from due schedules`);
        } catch (err) {
          this.logRepeated('error', `scheduler pass failed (will try again in ${pollSecs}s): ${messageOf(err)}`);
        }
        if (stopping) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, Math.min(pollMs, MAX_TIMER_MS));
        });
      }
      this.log.info('scheduler stopped');
    };
    const done = loop();
    const handle: RunHandle = {
      done,
      stop: async () => {
        stopping = true;
        clearTimeout(timer);
        wake?.();
        await done;
        this.loops.delete(handle);
      },
    };
    this.loops.add(handle);
    return handle;
  }

  /** Stops every loop this scheduler runs (the kernel calls it on shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.loops].map((l) => l.stop()));
  }

  /** Decides, for one due entry, its next fire time and whether (and for which time) a job is made. */
  private plan(entry: ScheduleEntry, now: number): Plan {
    return planFire(entry, now, this.known(entry.taskName), this.graceMs, this.missingRetryMs);
  }

  /**
   * Acts on a won fire time: reports, and makes the job when the plan says so. 'retry': the enqueue
   * failed and may work later (the hold stays, so the fire is reclaimed); 'none': nothing is owed.
   */
  private async dispatch(entry: ScheduleEntry, plan: Plan, tx?: unknown): Promise<'made' | 'none' | 'retry'> {
    const who = `schedule ${entry.id} (task "${entry.taskName}")`;
    if (plan.missing) {
      if (!this.missing.has(entry.id)) {
        this.missing.add(entry.id);
        const then = entry.kind === 'once'
          ? `it was due at ${at(plan.dueAt ?? null)} and is looked at again every ${this.missingRetryMs / 1000}s; its job, once the task is back, is made for (and named after) the time it is found`
          : 'its fire times are skipped until the task is back';
        this.log.warn(`${who}: the task is not in the registry (not defined in this process, not in the manifest); ${then}. Run \`nuvom discover tasks\`, or cancel it with \`nuvom schedule cancel ${entry.id}\``, { schedule: entry.id });
      }
      return 'none';
    }
    if (this.missing.delete(entry.id)) this.log.info(`${who}: the task is known again; fire times resume`, { schedule: entry.id });
    if (plan.note) this.log[plan.note.level](`${who}: ${plan.note.text}`, { schedule: entry.id });
    if (plan.fireFor === null) return 'none';
    const fireIso = new Date(plan.fireFor).toISOString();
    let args: unknown;
    try {
      args = this.d.serializer.decode(entry.args);
      if (!Array.isArray(args)) throw new Error('they are not a list');
    } catch (err) {
      this.log.error(`${who}: its stored arguments could not be decoded (${messageOf(err)}); the fire time ${fireIso} was not run`, { schedule: entry.id });
      return 'none';
    }
    const o = entry.options;
    // One id per fire time: a second enqueue of the same fire time is refused while the first is queued.
    const id = jobIdOf(entry.id, plan.fireFor);
    try {
      await this.d.jobs.enqueue([{
        taskName: entry.taskName,
        taskOptions: this.refOptions(entry.taskName),
        call: {
          args, id, priority: entry.priority, retries: o.maxRetries, retryDelaySecs: o.retryDelaySecs, backoff: o.backoff,
          timeoutSecs: o.timeoutSecs, timeoutPolicy: o.timeoutPolicy, storeResult: o.storeResult, tags: o.tags,
          ...(tx === undefined ? {} : { tx }),
        },
      }]);
    } catch (err) {
      if (isNuvomError(err, 'NUVOM_E_DUPLICATE_JOB')) {
        this.log.warn(`${who}: the job for ${fireIso} was already dispatched (${id})`, { schedule: entry.id });
        return 'none';
      }
      if (tx !== undefined) this.logRepeated('error', `${who}: enqueueing the job for ${fireIso} failed; it stays due and is tried again on the next pass: ${messageOf(err)}`);
      else this.log.error(`${who}: enqueueing the job for ${fireIso} failed; it is tried again in ${this.holdMs / 1000}s: ${messageOf(err)}`, { schedule: entry.id });
      return 'retry';
    }
    this.log.debug(`${who}: fire time ${fireIso} -> job ${id}`, { schedule: entry.id, job: id });
    return 'made';
  }

  private known(taskName: string): boolean {
    try {
      return this.d.registry.get(taskName) !== undefined;
    } catch {
      return false;
    }
  }

  private refOptions(taskName: string): TaskOptionsSnapshot {
    try {
      return this.d.registry.get(taskName)?.options ?? {};
    } catch {
      return {};
    }
  }

  /**
   * Re-reads the manifest now and then while some task is missing (discovery may have run since), and
   * refuses the pass while the registry cannot be read: due entries then stay due, nothing is lost.
   */
  private registryReadable(now: number): boolean {
    try {
      if (this.missing.size > 0 && now - this.lastRefresh >= REFRESH_MS) {
        this.lastRefresh = now;
        this.d.registry.refresh();
      }
      this.d.registry.list();
      return true;
    } catch (err) {
      this.logRepeated('error', `the task registry cannot be read, so no schedule fires until it can: ${messageOf(err)}`);
      return false;
    }
  }

  /** Logs a message, but the same one at most once a minute (a broken store must not flood stderr). */
  private logRepeated(level: 'warn' | 'error', msg: string): void {
    const t = Date.now();
    const last = this.lastLogged.get(msg);
    if (last !== undefined && t - last < REPEAT_LOG_MS) return;
    this.lastLogged.set(msg, t);
    if (this.lastLogged.size > 100) this.lastLogged.clear();
    this.log[level](msg);
  }
}
