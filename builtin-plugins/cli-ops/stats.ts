/**
 * `nuvom stats [--json]`: job counts per status and per task, the oldest pending job's age, and
 * throughput (jobs completed over the last minute, or --window), from JobsService.stats.
 * Must never: print anything but the JSON object with --json.
 */
import type { Command } from 'commander';
import { JOB_STATUSES, NuvomError, type JobStats, type PluginContext } from '../../sdk/plugin.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { cliFormat } from '../../sdk/plugin.ts';

const { out, paint, table, toJson } = cliFormat;
import { example, needs } from './options.ts';

export interface StatsView {
  total: number;
  byStatus: JobStats['byStatus'];
  byTask: Record<string, Record<string, number>>;
  oldestPendingAt: string | null;
  oldestPendingAgeSecs: number | null;
  window: string;
  windowSecs: number;
  completedInWindow: number;
  throughputPerSec: number;
}

export function statsView(s: JobStats, now: number, window: string, windowMs: number): StatsView {
  const byTask: StatsView['byTask'] = {};
  for (const task of Object.keys(s.byTask).sort()) {
    const counts = Object.fromEntries(JOB_STATUSES.map((st) => [st, s.byTask[task][st] ?? 0]));
    byTask[task] = { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
  }
  const byStatus = Object.fromEntries(JOB_STATUSES.map((st) => [st, s.byStatus[st] ?? 0])) as JobStats['byStatus'];
  return {
    total: Object.values(byStatus).reduce((a, b) => a + b, 0),
    byStatus,
    byTask,
    oldestPendingAt: s.oldestPendingAt,
    oldestPendingAgeSecs: s.oldestPendingAt ? Math.max(0, Math.round((now - Date.parse(s.oldestPendingAt)) / 1000)) : null,
    window,
    windowSecs: windowMs / 1000,
    completedInWindow: s.completedSince,
    throughputPerSec: Math.round((s.completedSince / (windowMs / 1000)) * 100) / 100,
  };
}

export function statsText(v: StatsView): string {
  const p = paint();
  const statusCols = JOB_STATUSES.map((st) => ({ header: st, align: 'right' as const }));
  const rows = [
    ...Object.entries(v.byTask).map(([task, c]) => [task, ...JOB_STATUSES.map((st) => String(c[st])), String(c.total)]),
    ['(all)', ...JOB_STATUSES.map((st) => String(v.byStatus[st])), String(v.total)],
  ];
  const counts = table([{ header: 'TASK', shrink: 1, min: 8 }, ...statusCols, { header: 'TOTAL', align: 'right' }], rows, { paint: p });
  const oldest = v.oldestPendingAt ? `${formatDuration(v.oldestPendingAgeSecs! * 1000)} (created ${v.oldestPendingAt})` : 'none';
  return [
    counts,
    '',
    `${p.bold('oldest pending')}  ${oldest}`,
    `${p.bold('throughput    ')}  ${v.completedInWindow} completed in the last ${v.window} (${v.throughputPerSec.toFixed(2)} jobs/s)`,
  ].join('\n');
}

export function addStatsCommand(program: Command, ctx: PluginContext): void {
  program.command('stats')
    .description("job counts per status and per task, the oldest pending job's age, throughput over the last minute")
    .option('--window <duration>', 'the span throughput is measured over', '1m')
    .option('--json', 'print the numbers as JSON')
    .addHelpText('after', example('$ nuvom stats', '$ nuvom stats --json | jq .byStatus.FAILED'))
    .action(async (o: { window: string; json?: boolean }) => {
      const windowMs = parseDuration(o.window, '--window');
      if (windowMs <= 0) throw new NuvomError('NUVOM_E_USAGE', `--window must be longer than 0, got "${o.window}"`);
      const now = ctx.resolve('clock').now();
      const s = await needs(ctx, 'stats', 'stats', 'count jobs', () => ctx.resolve('jobs').stats(now - windowMs));
      const v = statsView(s, now, o.window, windowMs);
      out(o.json ? toJson(v, 2) : statsText(v));
    });
}
