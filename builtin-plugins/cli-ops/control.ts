/**
 * `nuvom retry JOB_ID` (or `retry job JOB_ID`), `nuvom retry jobs --status FAILED [--task T]
 * [--since D]` and `nuvom cancel JOB_ID` (or `cancel job JOB_ID`): job control from the shell, over
 * the jobs service (builtin-plugins/jobs). A refusal (a SUCCESS job retried, a finished job
 * cancelled, an unknown id) is a NuvomError that cli/main.ts prints as one line, exit 1.
 * Must never: decide itself what may be retried or cancelled; the jobs service holds those rules.
 */
import type { Command } from 'commander';
import { NuvomError, resolveJobId, type JobRecord, type JobStatus, type PluginContext } from '../../sdk/plugin.ts';
import { cliFormat } from '../../sdk/plugin.ts';
import { parseDuration } from './duration.ts';

const { out, plural, toJson } = cliFormat;
import { example, needs, parent, positiveInt, statusList } from './options.ts';

const ID = '5f1c2a9e-8d43-4a51-9c7e-2b1f0e6d3a70';
const ID_HELP = 'the id `nuvom enqueue` printed (or one from `nuvom history recent`), or its first characters (6 or more) when no other job id starts with them';
const RETRYABLE: readonly JobStatus[] = ['FAILED', 'CANCELLED'];

export function addControlCommands(program: Command, ctx: PluginContext): void {
  const retryOne = async (idOrPrefix: string | undefined, o: { json?: boolean } = {}) => {
    if (idOrPrefix === undefined) throw new NuvomError('NUVOM_E_USAGE', 'nuvom retry needs a job id (`nuvom retry <jobId>`) or `nuvom retry jobs --status FAILED`');
    const rec = await ctx.resolve('jobs').retryJob(await resolveJobId(ctx.resolve('jobs'), idOrPrefix));
    out(o.json ? toJson({ id: rec.id, taskName: rec.taskName, status: rec.status }) : `retried ${rec.id} (task ${rec.taskName}): ${rec.status}`);
  };
  const cancelOne = async (idOrPrefix: string | undefined, o: { wait?: boolean; waitSecs: number; json?: boolean }) => {
    if (idOrPrefix === undefined) throw new NuvomError('NUVOM_E_USAGE', 'nuvom cancel needs a job id: `nuvom cancel <jobId>`');
    const jobs = ctx.resolve('jobs');
    const id = await resolveJobId(jobs, idOrPrefix);
    const outcome = await jobs.cancelJob(id);
    // --json: {id, outcome}: cancelled, requested (running, not waited for), or the status it ended with.
    const said = (what: string, text: string) => out(o.json ? toJson({ id, outcome: what }) : text);
    if (outcome === 'cancelled') { said('cancelled', `cancelled ${id}`); return; }
    if (!o.wait) {
      said('requested', `requested ${id}: it is running; its worker aborts the task's signal within about a second and records it CANCELLED (cancel job --wait waits for that)`);
      return;
    }
    // waitForResult polls the record until it is final; its own errors say FAILED or CANCELLED.
    await jobs.waitForResult(id, { timeoutSecs: o.waitSecs }).catch((err: { code?: string }) => {
      if (err.code === 'NUVOM_E_RESULT_TIMEOUT') {
        throw new NuvomError('NUVOM_E_RESULT_TIMEOUT', `requested ${id}, but it is still running after ${o.waitSecs}s; is its worker alive? (nuvom inspect job ${id})`);
      }
    });
    const rec = await jobs.getJob(id);
    if (rec?.status === 'CANCELLED') said('cancelled', `cancelled ${id}`);
    else said(rec?.status.toLowerCase() ?? 'gone', `${rec?.status.toLowerCase() ?? 'gone'} ${id}: it finished before its worker saw the cancel`);
  };
  /** --json given before or after the subcommand word (`retry --json job X`, `retry job X --json`): the parent's option takes it. */
  const json = (o: { json?: boolean }, cmd: Command): boolean => o.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;

  // `retry <id>` and `retry job <id>` are one command: the id alone is what people type first.
  const retry = parent(program, 'retry', 'run a failed or cancelled job again', `nuvom retry ${ID}`)
    .argument('[jobId]', ID_HELP)
    // Only --json here: the parent takes it wherever it is written, so the subcommands read it through optsWithGlobals.
    .option('--json', 'print {id, taskName, status} as JSON (retry jobs: the ids as a JSON array)')
    .action((id: string | undefined, o: { json?: boolean }) => retryOne(id, o));
  retry.command('job')
    .description("run a FAILED or CANCELLED job again, same id and arguments, with its task's options; a SUCCESS job is refused")
    .argument('<jobId>', ID_HELP)
    .option('--json', 'print {id, taskName, status} as JSON')
    .addHelpText('after', example(`$ nuvom retry job ${ID}`, `retried ${ID} (task add): PENDING`))
    .action((id: string, o: { json?: boolean }, cmd: Command) => retryOne(id, { json: json(o, cmd) }));
  retry.command('jobs')
    .description('retry every job that matches: --status (FAILED or CANCELLED, required), --task, --since; prints each id')
    .requiredOption('--status <status>', 'FAILED, CANCELLED or both comma-separated', statusList('--status', RETRYABLE, '; only failed or cancelled jobs can run again'))
    .option('--task <name>', 'only jobs of this task')
    .option('--since <duration>', 'only jobs created within this span, e.g. 1h, 2d')
    .option('--json', 'print the retried ids as a JSON array')
    .addHelpText('after', example('$ nuvom retry jobs --status FAILED --task add --since 1h', 'retried 2 jobs'))
    .action(async (o: { status: JobStatus[]; task?: string; since?: string; json?: boolean }, cmd: Command) => {
      const createdAfter = o.since === undefined ? undefined : ctx.resolve('clock').now() - parseDuration(o.since, '--since');
      const jobs = ctx.resolve('jobs');
      // Collect first, then retry: a retried job leaves the filter and would shift the pages.
      const found: JobRecord[] = [];
      for (let offset = 0; ; offset += 500) {
        const page = await needs(ctx, 'listJobs', 'retry jobs', 'list jobs', () => jobs.listJobs({
          status: o.status, task: o.task, createdAfter, order: 'asc', limit: 500, offset,
        }));
        found.push(...page);
        if (page.length < 500) break;
      }
      const ids: string[] = [];
      for (const r of found) { await jobs.retryJob(r.id); ids.push(r.id); }
      if (json(o, cmd)) { out(toJson(ids, 2)); return; }
      for (const id of ids) out(`retried ${id}`);
      out(`retried ${plural(ids.length, 'job')}`);
    });

  const cancel = parent(program, 'cancel', 'cancel a job', `nuvom cancel ${ID}`)
    .argument('[jobId]', ID_HELP)
    // Only --json here, as for retry: `cancel job <id> --wait` waits.
    .option('--json', 'print {id, outcome} as JSON (outcome: cancelled, requested, or the status the job ended with)')
    .action((id: string | undefined, o: { json?: boolean }) => cancelOne(id, { waitSecs: 60, json: o.json }));
  cancel.command('job')
    .description("cancel a PENDING or RETRYING job (prints cancelled); a RUNNING job's signal is aborted by its worker within about a second (prints requested; --wait waits for the outcome)")
    .argument('<jobId>', ID_HELP)
    .option('--wait', 'for a running job, wait until its worker has recorded the outcome and print it')
    .option('--wait-secs <n>', 'how long --wait waits', positiveInt('--wait-secs'), 60)
    .option('--json', 'print {id, outcome} as JSON')
    .addHelpText('after', example(`$ nuvom cancel job ${ID} --wait`, `cancelled ${ID}`))
    .action((id: string, o: { wait?: boolean; waitSecs: number; json?: boolean }, cmd: Command) => cancelOne(id, { ...o, json: json(o, cmd) }));
}
