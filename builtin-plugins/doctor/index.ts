/**
 * Doctor plugin: `nuvom doctor [--json] [--fix] [--grace-secs N]` checks the configured backends (SQLite
 * file, integrity and WAL state, expired leases; file-queue permissions and quarantine), jobs that
 * can never finish (stuck RUNNING, orphaned PENDING/RETRYING), and the task manifest. One line per
 * check, `ok|warn|FAIL  <check>: <detail>; fix: <what to do>`; exit code 1 when any check FAILs.
 * In a worker's process it records the worker's storage errors for doctor to read (last-error.ts).
 * Must never: change anything unless --fix is given, and then only mark hopeless records FAILED.
 */
import { existsSync } from 'node:fs';
import { definePlugin, NuvomError, resolvePath, type PluginContext } from '../../sdk/plugin.ts';
import { checkJobs, jobCheckError } from './jobs.ts';
import { checkFreeSpace, checkLastStorageError, recordStorageErrors } from './last-error.ts';
import { checkManifest } from './manifest.ts';
import { finding, formatJson, formatLine, type Finding } from './report.ts';
import { checkFileQueue, checkFileResults, checkSqliteFile, sqliteFiles } from './storage.ts';

export type { Finding, Level } from './report.ts';

export interface DoctorOptions {
  fix?: boolean;
  /** Records younger than this are not judged by the job checks (default 60 s). */
  graceSecs?: number;
}

/** Whether the job checks can read storage without creating it (a missing file is not an error). */
function storagePresent(ctx: PluginContext, findings: Finding[]): string | null {
  const c = ctx.config;
  if (c.queueBackend === 'memory' || c.resultBackend === 'memory') return 'the memory backends keep jobs inside each process; nothing to check from here';
  // A missing schedules-only file does not keep the job checks from reading the queue and results.
  const missing = findings.find((f) => f.data?.exists === false && !(f.data.services as string[] | undefined)?.every((s) => s === 'schedules'));
  if (missing) return 'no job storage yet';
  if (findings.some((f) => f.level === 'FAIL' && f.check !== 'manifest')) return 'skipped: fix the storage problem above first';
  // Opening the services would create nuvom's tables (and switch the file to WAL) in a foreign file.
  const foreign = findings.find((f) => f.check === 'sqlite-integrity' && Array.isArray(f.data?.tables) && (f.data.tables as string[]).length === 0);
  if (foreign) return 'the SQLite file holds no nuvom tables yet: no jobs to check';
  if (c.queueBackend === 'file' && !existsSync(resolvePath(c, c.fileQueueDir))) return 'no job storage yet';
  return null;
}

export async function runDoctor(ctx: PluginContext, opts: DoctorOptions = {}): Promise<Finding[]> {
  const c = ctx.config;
  const findings: Finding[] = [
    finding('config', 'ok', `queue ${c.queueBackend}, results ${c.resultBackend}, schedules ${c.schedulerBackend}; lease ${c.visibilityTimeoutSecs}s; project ${c.cwd}`),
  ];
  for (const [file, services] of sqliteFiles(c)) findings.push(...checkSqliteFile(file, services, c));
  if (c.queueBackend === 'file') findings.push(...checkFileQueue(c));
  if (c.resultBackend === 'file') findings.push(...checkFileResults(c));
  // A full volume or a worker's storage error does not keep the (read-only) job checks from running.
  const volume = [...checkFreeSpace(c), checkLastStorageError(c)];

  const skip = storagePresent(ctx, findings);
  if (skip) {
    const level = skip.startsWith('skipped') ? 'warn' : 'ok';
    findings.push(finding('stuck-jobs', level, skip), finding('orphaned-jobs', level, skip));
  } else {
    try {
      findings.push(...await checkJobs({
        queue: ctx.resolve('queue'), results: ctx.resolve('resultStore'), graceMs: (opts.graceSecs ?? 60) * 1000,
        fix: opts.fix === true, visibilityTimeoutSecs: c.visibilityTimeoutSecs,
      }));
    } catch (err) {
      findings.push(jobCheckError(err));
    }
  }
  findings.push(...volume, checkManifest(ctx));
  return findings;
}

function graceSecs(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new NuvomError('NUVOM_E_USAGE', `--grace-secs must be a number >= 0, got "${v}"`);
  return n;
}

export default definePlugin({
  name: 'nuvom-doctor',
  apiVersion: 1,
  description: '`nuvom doctor`: checks storage, stuck and orphaned jobs, and the task manifest, and says what to do',
  provides: ['cli'],
  async start(_raw, ctx) {
    recordStorageErrors(ctx, 'nuvom-doctor');
  },
  register(ctx) {
    ctx.hooks.cli.tap('nuvom-doctor', ({ program }) => {
      program.command('doctor')
        .description('check the configured backends, stuck or orphaned jobs and the task manifest; exit code 1 when a check fails')
        .option('--json', 'print JSON: { ok, checks: [{ check, level, detail, fix, data }] }')
        .option('--fix', 'mark records that can never finish (stuck RUNNING, orphaned PENDING/RETRYING) FAILED, so they can be retried')
        .option('--grace-secs <n>', 'ignore records younger than this: an enqueue may be halfway (default 60)', graceSecs)
        .addHelpText('after', '\nExample:\n  $ nuvom doctor\n  $ nuvom doctor --json | jq \'.checks[] | select(.level != "ok")\'')
        .action(async (o: { json?: boolean; fix?: boolean; graceSecs?: number }) => {
          const findings = await runDoctor(ctx, { fix: o.fix, graceSecs: o.graceSecs });
          process.stdout.write(`${o.json ? formatJson(findings) : findings.map(formatLine).join('\n')}\n`);
          if (findings.some((f) => f.level === 'FAIL')) process.exitCode = 1;
        });
    });
  },
});
