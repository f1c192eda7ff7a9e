/**
 * `nuvom history recent` (recent jobs, newest first, as a table or JSON) and `nuvom history purge`
 * (retention: delete finished records older than a duration).
 * Must never: purge a record whose job may still run (only SUCCESS, FAILED and CANCELLED are purged),
 * or print anything but the JSON array with --json.
 */
import type { Command } from 'commander';
import { FINAL_STATUSES, JOB_STATUSES, type JobRecord, type JobStatus, type PluginContext } from '../../sdk/plugin.ts';
import { formatAge, parseDuration } from './duration.ts';
import { cliFormat } from '../../sdk/plugin.ts';

const { out, paint, plural, table, toJson } = cliFormat;
import { example, needs, parent, positiveInt, statusList } from './options.ts';

function summary(r: JobRecord): string {
  if (r.error) return `${r.error.name}: ${r.error.message}`;
  if (r.status === 'SUCCESS') return toJson(r.result);
  return '';
}

/**
 * Newest first; the id stays whole as long as it can (it is what the next command needs), so the
 * result, the task and the age give up width first. Durations and exact times are in `inspect job`.
 */
export function historyTable(records: JobRecord[], now = Date.now()): string {
  const p = paint();
  return table([
    { header: 'ID', shrink: 4, min: Infinity }, // cut only when nothing else is left to cut
    { header: 'TASK', shrink: 2, min: 8 },
    { header: 'STATUS', color: (s, v) => p.status(s, v) },
    { header: 'ATT', align: 'right' },
    { header: 'CREATED', shrink: 3, min: 7 },
    { header: 'RESULT / ERROR', shrink: 1, min: 12 },
  ], records.map((r) => [r.id, r.taskName, r.status, String(r.attempts), formatAge(now - Date.parse(r.createdAt)), summary(r)]), { paint: p });
}

export function addHistoryCommands(program: Command, ctx: PluginContext): void {
  const history = parent(program, 'history', 'recent jobs and record retention', 'nuvom history recent --status FAILED');

  history.command('recent')
    .description('recent jobs, newest first')
    .option('--limit <n>', 'at most this many jobs', positiveInt('--limit'), 20)
    .option('--status <status>', `only jobs in this status, or several comma-separated: ${JOB_STATUSES.join(', ')}`, statusList('--status'))
    .option('--task <name>', 'only jobs of this task')
    .option('--json', 'print the job records as a JSON array')
    .addHelpText('after', example('$ nuvom history recent --limit 5 --status failed,cancelled', '$ nuvom history recent --task add --json | jq ".[].id"'))
    .action(async (o: { limit: number; status?: JobStatus[]; task?: string; json?: boolean }) => {
      const jobs = ctx.resolve('jobs');
      const records = await needs(ctx, 'listJobs', 'history recent', 'list jobs', () => jobs.listJobs({
        limit: o.limit, task: o.task, order: 'desc', status: o.status?.length === 1 ? o.status[0] : o.status,
        // The table shows no arguments, which may be large: the store may leave them out.
        withArgs: o.json === true,
      }));
      if (o.json) out(toJson(records, 2));
      else if (records.length === 0) out('no jobs found');
      else out(historyTable(records));
    });

  history.command('purge')
    .description('delete finished job records (SUCCESS, FAILED, CANCELLED) completed longer ago than DURATION; prints how many')
    .requiredOption('--older-than <duration>', 'e.g. 7d, 12h, 30m, 90s, 1h30m')
    .option('--status <status>', 'only these final statuses, comma-separated (default: SUCCESS,FAILED,CANCELLED)', statusList('--status', FINAL_STATUSES, '; records of jobs that may still run (PENDING, RUNNING, RETRYING) are never purged'))
    .option('--json', 'print {deleted, statuses, olderThan} as JSON')
    .addHelpText('after', example('$ nuvom history purge --older-than 7d', '$ nuvom history purge --older-than 12h --status success'))
    .action(async (o: { olderThan: string; status?: JobStatus[]; json?: boolean }) => {
      const ms = parseDuration(o.olderThan, '--older-than');
      const statuses = o.status ?? [...FINAL_STATUSES];
      const olderThan = ctx.resolve('clock').now() - ms;
      const store = ctx.resolve('resultStore');
      const n = await needs(ctx, 'purge', 'history purge', 'delete job records', () => store.purge({ olderThan, status: statuses }));
      if (o.json) out(toJson({ deleted: n, statuses, olderThan: o.olderThan }));
      else out(`deleted ${plural(n, 'job record')} (${statuses.join(', ')}) older than ${o.olderThan}`);
    });
}
