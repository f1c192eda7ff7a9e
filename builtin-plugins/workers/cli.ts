/**
 * `nuvom workers [--json]`: the workers whose heartbeats the result store holds, live or stale.
 * Data on stdout (a table, or pure JSON with --json); the empty case says so on stderr.
 * Must never: write to the store (listing changes nothing; stale rows stay until their worker beats
 * again or is removed by hand).
 */
import type { Command } from 'commander';
import { cliFormat, type PluginContext } from '../../sdk/plugin.ts';
import { listWorkers, STALE_PERIODS, type WorkerView } from './view.ts';

const { out, table, paint } = cliFormat;

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function workersTable(views: WorkerView[], now: number): string {
  const p = paint();
  return table([
    { header: 'WORKER', shrink: 1, min: 12 }, { header: 'HOST', shrink: 2 }, { header: 'PID', align: 'right' },
    { header: 'BUSY', align: 'right' }, { header: 'JOBS/S', align: 'right' }, { header: 'LAST BEAT' },
    { header: 'STATE', color: (s, v) => (v === 'stale' ? p.red(s) : s) },
  ], views.map((v) => [v.workerId, v.host, String(v.pid), `${v.busyThreads}/${v.threads}`, v.jobsPerSec.toFixed(1), ago(v.lastBeatAt, now), v.state]), { paint: p });
}

export function addWorkersCommand(program: Command, ctx: PluginContext): void {
  program.command('workers')
    .description('the running workers from their heartbeats: host, pid, threads busy, jobs/s, last beat, live or stale')
    .option('--json', 'print JSON (times in ISO-8601 UTC)')
    .addHelpText('after', `\nA worker is stale after ${STALE_PERIODS} heartbeat periods without a beat (killed, hung or cut off);\na worker that stops normally removes itself.\n\nExample:\n  $ nuvom workers --json`)
    .action(async (o: { json?: boolean }) => {
      const now = Date.now();
      const views = await listWorkers(ctx.resolve('resultStore'), now);
      if (o.json) return out(JSON.stringify(views, null, 2));
      if (views.length === 0) return void process.stderr.write('no workers (none has written a heartbeat to this result store)\n');
      out(workersTable(views, now));
    });
}
