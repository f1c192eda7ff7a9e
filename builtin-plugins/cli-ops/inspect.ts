/**
 * `nuvom inspect job JOB_ID [--format table|json|raw]`: one job's full record. The table shows the
 * decoded arguments and result, the error's stack in full, and every attempt kept in the record's
 * history (start, duration, outcome, worker, the error's first line); json is the record
 * pretty-printed, history included; raw is the record exactly as the result store returned it, on one line.
 * Must never: cut the stack or the result short (that is what inspecting is for).
 */
import type { Command } from 'commander';
import { NuvomError, resolveJobId, type AttemptRecord, type JobRecord, type PluginContext } from '../../sdk/plugin.ts';
import { formatDuration } from './duration.ts';
import { cliFormat } from '../../sdk/plugin.ts';

const { keyValues, out, paint, table, termWidth, toJson } = cliFormat;
import { choice, example, parent } from './options.ts';

const FORMATS = ['table', 'json', 'raw'] as const;
type Format = (typeof FORMATS)[number];

/** A value as JSON, pretty-printed over several lines when one line would not fit. */
function shown(value: unknown, room: number): string {
  const flat = toJson(value);
  return flat.length <= room ? flat : toJson(value, 2);
}

const span = (from: string | null, to: string | null) => (from && to ? formatDuration(Date.parse(to) - Date.parse(from)) : '-');

export function inspectTable(r: JobRecord, width = termWidth()): string {
  const p = paint();
  const room = Math.max(40, Math.min(width, 160) - 14);
  const pairs: Array<[string, string]> = [
    ['id', r.id],
    ['task', r.taskName],
    ['status', p.status(r.status, r.status)],
    ['args', shown(r.args, room)],
    ['result', r.status === 'SUCCESS' ? shown(r.result, room) : '-'],
    ['error', r.error ? p.red(`${r.error.name}: ${r.error.message}`) : '-'],
    ['attempts', `${r.attempts} (max retries ${r.maxRetries}, ${r.retriesLeft} left)`],
    ['priority', String(r.priority)],
    ['tags', r.tags.length ? r.tags.join(', ') : '-'],
    ['created', r.createdAt],
    ['started', r.startedAt ?? '-'],
    ['completed', r.completedAt ?? '-'],
    ['took', span(r.startedAt, r.completedAt)],
    ['next run', r.nextRunAt ?? '-'],
    ['timeout', `${r.timeoutSecs}s, policy ${r.timeoutPolicy}`],
    ['worker', r.workerId ?? '-'],
  ];
  const stack = r.error?.stack ? `\n\n${p.bold('stack')}\n${r.error.stack}` : '';
  // The attempt running now is the record itself, not yet in the history.
  const now: ShownAttempt[] = r.status === 'RUNNING'
    ? [{ attempt: r.attempts, startedAt: r.startedAt, endedAt: null, outcome: 'RUNNING', error: null, workerId: r.workerId, threadId: null }]
    : [];
  const attempts = [...(r.history ?? []), ...now];
  const history = attempts.length ? `\n\n${p.bold('attempts')}\n${attemptsTable(attempts, Math.min(width, 160), p)}` : '';
  return keyValues(pairs, p) + history + stack;
}

/** An ended attempt, or the one running now (shown from the record). */
type ShownAttempt = Omit<AttemptRecord, 'outcome'> & { outcome: AttemptRecord['outcome'] | 'RUNNING' };

const firstLine = (e: AttemptRecord['error']) => (e ? `${e.name}: ${e.message}`.split('\n')[0] : '-');

/** One row per attempt, oldest first: a job that failed twice then succeeded shows both errors. */
export function attemptsTable(history: readonly ShownAttempt[], width: number, p = paint()): string {
  const rows = history.map((a) => [
    String(a.attempt), a.startedAt ?? '-', span(a.startedAt, a.endedAt), a.outcome,
    a.workerId ? `${a.workerId}${a.threadId === null ? '' : `/t${a.threadId}`}` : '-', firstLine(a.error),
  ]);
  return table([
    { header: '#', align: 'right' }, { header: 'started' }, { header: 'took', align: 'right' },
    { header: 'outcome', color: (cell, v) => (v === 'SUCCESS' || v === 'RUNNING' ? p.status(cell, v) : p.status(cell, 'FAILED')) },
    { header: 'worker', shrink: 1, min: 8 }, { header: 'error', shrink: 2, min: 12 },
  ], rows, { width, paint: p });
}

export function addInspectCommands(program: Command, ctx: PluginContext): void {
  parent(program, 'inspect', 'look at one job in detail', 'nuvom inspect job 5f1c2a9e-8d43-4a51-9c7e-2b1f0e6d3a70')
    .command('job')
    .description('the full record of one job: arguments, result, error with its whole stack, timings')
    .argument('<jobId>', 'the id `nuvom enqueue` printed (or one from `nuvom history recent`), or its first characters (6 or more)')
    .option('--format <format>', 'table, json (the record, pretty) or raw (the record as stored, one line)', choice('--format', FORMATS), 'table' as Format)
    .option('--json', 'the same as --format json, as on the other commands')
    .addHelpText('after', example('$ nuvom inspect job 5f1c2a9e-8d43-4a51-9c7e-2b1f0e6d3a70', '$ nuvom inspect job 5f1c2a9e-8d43-4a51-9c7e-2b1f0e6d3a70 --json | jq .error.stack'))
    .action(async (idOrPrefix: string, o: { format: Format; json?: boolean }) => {
      if (o.json && o.format !== 'table' && o.format !== 'json') throw new NuvomError('NUVOM_E_USAGE', `--json and --format ${o.format} ask for two formats; give one`);
      if (o.json) o.format = 'json';
      const id = await resolveJobId(ctx.resolve('jobs'), idOrPrefix);
      const rec = await ctx.resolve('jobs').getJob(id);
      if (!rec) throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${id}"`);
      if (o.format === 'json') out(toJson(rec, 2));
      else if (o.format === 'raw') out(toJson(rec));
      else out(inspectTable(rec));
    });
}
