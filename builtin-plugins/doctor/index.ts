/**
 * Doctor plugin: `nuvom doctor [--json] [--fix] [--grace-secs N]` checks every chosen storage backend
 * through the plugin contracts only (each implementation's StorageHealth, provided beside its
 * factory, and a built backend's optional health()), jobs that can never finish (stuck RUNNING,
 * orphaned PENDING/RETRYING), the volumes' free space, a worker's last storage error and the task
 * manifest. One line per check, `ok|warn|FAIL  <check>: <detail>; fix: <what to do>`; exit code 1
 * when any check FAILs. In a worker's process it records the worker's storage errors for doctor to
 * read (last-error.ts).
 * Must never: know a backend by name or read its files itself; change anything unless --fix is
 * given, and then only mark hopeless records FAILED (and what a backend's own fixes do).
 */
import { definePlugin, NuvomError, type PluginContext } from '../../sdk/plugin.ts';
import { recordStorageErrors } from './last-error.ts';
import { formatJson, formatLine, type Finding } from './report.ts';
import type { DoctorOptions } from './run.ts';

export type { Finding, Level } from './report.ts';
export type { DoctorOptions } from './run.ts';

/** Runs every check (run.ts, loaded on the first call: only the command needs it). */
export async function runDoctor(ctx: PluginContext, opts: DoctorOptions = {}): Promise<Finding[]> {
  return (await import('./run.ts')).runDoctor(ctx, opts);
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
  // Discovery only judges the manifest better when it is there.
  needs: ['queue', 'resultStore', 'kernelInfo', 'discovery?'],
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
