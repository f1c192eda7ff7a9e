/**
 * The scheduler's commands: `nuvom runscheduler`, `nuvom schedule list`, `nuvom schedule cancel`.
 * Data on stdout (a table, or pure JSON with --json), logs on stderr; failures are thrown as
 * NuvomError for cli/main.ts to print as one line with exit code 1 (2 for usage errors).
 * Must never: call process.exit, or print anything but data on stdout.
 */
import type { Command } from 'commander';
import { NuvomError, cliFormat, storedIso, type PluginContext, type ScheduleEntry } from '../../sdk/plugin.ts';
import { describeTrigger } from './trigger.ts';

const TIME_FIELDS = ['nextRunAt', 'lastRunAt', 'createdAt'] as const;


/**
 * What is wrong with a stored entry's times (a row an older version stored, or another store wrote),
 * or null: one such row is shown as invalid rather than failing the whole listing.
 */
export function invalidTimes(e: ScheduleEntry): string | null {
  const bad = TIME_FIELDS.filter((f) => storedIso(e[f]) === undefined).map((f) => `${f} ${String(e[f])} is not a valid time`);
  return bad.length ? bad.join('; ') : null;
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** The longest --poll: a scheduler that looks less than once a day is almost surely a typo. */
const MAX_POLL_SECS = 86_400;

function pollSecs(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new NuvomError('NUVOM_E_USAGE', `${flag} must be a number of seconds > 0, got "${v}"`);
    if (n > MAX_POLL_SECS) throw new NuvomError('NUVOM_E_USAGE', `${flag} must be at most ${MAX_POLL_SECS} seconds (a day), got "${v}"`);
    return n;
  };
}

/** A schedule as `schedule list --json` prints it: arguments decoded, times as ISO-8601 UTC. */
export function scheduleView(e: ScheduleEntry, decode: (b: Uint8Array) => unknown) {
  let args: unknown = null;
  try { args = decode(e.args); } catch { /* shown as null: the table and the ids stay usable */ }
  const invalid = invalidTimes(e);
  return {
    id: e.id, key: e.key ?? null, taskName: e.taskName, args, priority: e.priority, kind: e.kind, everySecs: e.everySecs, cron: e.cron,
    timezone: e.timezone, misfire: e.misfire, status: e.status, nextRunAt: storedIso(e.nextRunAt) ?? null, lastRunAt: storedIso(e.lastRunAt) ?? null,
    createdAt: storedIso(e.createdAt) ?? null, options: e.options, ...(invalid ? { invalid } : {}),
  };
}

/** The NEXT RUN cell: the time, "-" when none, "invalid (<stored value>)" when the stored value is no time. */
function nextRunCell(e: ScheduleEntry): string {
  const t = storedIso(e.nextRunAt);
  return t === undefined ? `invalid (${String(e.nextRunAt)})` : t ?? '-';
}

export function scheduleTable(entries: ScheduleEntry[]): string {
  const rows = [['ID', 'KEY', 'TASK', 'TRIGGER', 'NEXT RUN', 'STATUS'],
    ...entries.map((e) => [e.id, e.key ?? '-', e.taskName, describeTrigger(e), nextRunCell(e), e.status])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

async function runScheduler(ctx: PluginContext, pollSecs: number | undefined): Promise<void> {
  const { config, logger: log } = ctx;
  if (config.schedulerBackend === 'memory') {
    log.warn('the schedule store is "memory": only schedules made in this process are seen; use sqlite (the default) to share them');
  }
  const loop = ctx.resolve('scheduler').run({ pollSecs });
  log.info(`scheduler reads schedules from ${config.schedulerBackend} and enqueues jobs to ${config.queueBackend}; SIGINT or SIGTERM stops it`);
  const onSignal = (sig: NodeJS.Signals) => {
    log.info(`${sig}: stopping the scheduler`);
    void loop.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await loop.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function addSchedulerCommands(program: Command, ctx: PluginContext): void {
  program.command('runscheduler')
    .description('run the scheduler loop in the foreground: due schedules become jobs; SIGINT/SIGTERM stop it')
    .option('--poll <secs>', 'seconds between passes (default 1)', pollSecs('--poll'))
    .addHelpText('after', '\nSeveral schedulers may run on one store: each fire time becomes one job.\n\nExample:\n  $ nuvom runscheduler --poll 5')
    .action(async (o: { poll?: number }) => runScheduler(ctx, o.poll));

  const schedule = program.command('schedule').description('list and cancel scheduled entries');
  schedule.command('list')
    .description('the active schedules: id, task, trigger, next run, status')
    .option('--json', 'print JSON (arguments decoded, times in ISO-8601 UTC)')
    .option('--all', 'include schedules that are DONE or CANCELLED')
    .addHelpText('after', '\nExample:\n  $ nuvom schedule list --json')
    .action(async (o: { json?: boolean; all?: boolean }) => {
      const entries = await ctx.resolve('scheduler').list({ includeFinished: o.all === true });
      for (const e of entries) {
        const invalid = invalidTimes(e);
        if (invalid) ctx.logger.warn(`schedule ${e.id} (task "${e.taskName}") is stored with an invalid time (${invalid}); cancel it with \`nuvom schedule cancel ${e.id}\` and schedule it again`);
      }
      if (o.json) {
        const serializer = ctx.resolve('serializer');
        // cliFormat.toJson, as other commands: arguments may hold a BigInt (JSON.stringify throws), bytes, a Map or a Set.
        out(cliFormat.toJson(entries.map((e) => scheduleView(e, (b) => serializer.decode(b))), 2));
        return;
      }
      if (entries.length === 0) {
        process.stderr.write(o.all ? 'no schedules\n' : 'no active schedules (--all shows finished ones)\n');
        return;
      }
      out(scheduleTable(entries));
    });
  schedule.command('cancel')
    .description('cancel a schedule: it makes no more jobs (jobs already made are not touched)')
    .argument('<id>', 'the schedule id or key, from `nuvom schedule list`')
    .option('--json', 'print {id, status} as JSON')
    .addHelpText('after', '\nExample:\n  $ nuvom schedule cancel 3b9e1c52-6a0e-4b8f-9f7d-0c2d1e4a5b6c')
    .action(async (id: string, o: { json?: boolean }) => {
      const scheduler = ctx.resolve('scheduler') as ReturnType<typeof ctx.resolve<'scheduler'>> & { find?: (idOrKey: string) => Promise<ScheduleEntry | null> };
      const find = (idOrKey: string) => (scheduler.find ? scheduler.find(idOrKey) : ctx.resolve('scheduleStore').get(idOrKey));
      if (await scheduler.cancel(id)) {
        // The schedule's id, also when it was cancelled by key.
        const real = (await find(id))?.id ?? id;
        out(o.json ? JSON.stringify({ id: real, status: 'CANCELLED' }) : `${real} CANCELLED`);
        return;
      }
      const entry = await find(id);
      if (!entry) throw new NuvomError('NUVOM_E_SCHEDULE_NOT_FOUND', `no schedule with id or key "${id}"; \`nuvom schedule list --all\` shows the ids and keys`);
      throw new NuvomError('NUVOM_E_SCHEDULE_INVALID', `schedule "${id}" is already ${entry.status}; only ACTIVE schedules can be cancelled`);
    });
}
