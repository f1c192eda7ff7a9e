/**
 * `nuvom retry job JOB_ID` and `nuvom cancel job JOB_ID`: job control from the shell, over the jobs
 * service (builtin-plugins/jobs). A refusal (a SUCCESS job retried, a finished job cancelled, an
 * unknown id) is a NuvomError that cli/main.ts prints as one line, exit 1.
 * Must never: decide itself what may be retried or cancelled; the jobs service holds those rules.
 */
import type { Command } from 'commander';
import type { PluginContext } from '../../sdk/plugin.ts';
import { cliFormat, NuvomError } from '../../sdk/plugin.ts';

const { out } = cliFormat;
import { example, parent, positiveInt } from './options.ts';

const ID = '5f1c2a9e-8d43-4a51-9c7e-2b1f0e6d3a70';

export function addControlCommands(program: Command, ctx: PluginContext): void {
  parent(program, 'retry', 'run a failed or cancelled job again', `nuvom retry job ${ID}`)
    .command('job')
    .description("run a FAILED or CANCELLED job again, same id and arguments, with its task's options; a SUCCESS job is refused")
    .argument('<jobId>', 'the id `nuvom enqueue` printed (or one from `nuvom history recent`)')
    .addHelpText('after', example(`$ nuvom retry job ${ID}`, `retried ${ID} (task add): PENDING`))
    .action(async (id: string) => {
      const rec = await ctx.resolve('jobs').retryJob(id);
      out(`retried ${rec.id} (task ${rec.taskName}): ${rec.status}`);
    });

  parent(program, 'cancel', 'cancel a job', `nuvom cancel job ${ID}`)
    .command('job')
    .description("cancel a PENDING or RETRYING job (prints cancelled); a RUNNING job's signal is aborted by its worker within about a second (prints requested; --wait waits for the outcome)")
    .argument('<jobId>', 'the id `nuvom enqueue` printed (or one from `nuvom history recent`)')
    .option('--wait', 'for a running job, wait until its worker has recorded the outcome and print it')
    .option('--wait-secs <n>', 'how long --wait waits (default 60)', positiveInt('--wait-secs'), 60)
    .addHelpText('after', example(`$ nuvom cancel job ${ID} --wait`, `cancelled ${ID}`))
    .action(async (id: string, o: { wait?: boolean; waitSecs: number }) => {
      const jobs = ctx.resolve('jobs');
      const outcome = await jobs.cancelJob(id);
      if (outcome === 'cancelled') { out(`cancelled ${id}`); return; }
      if (!o.wait) {
        out(`requested ${id}: it is running; its worker aborts the task's signal within about a second and records it CANCELLED (--wait waits for that)`);
        return;
      }
      // waitForResult polls the record until it is final; its own errors say FAILED or CANCELLED.
      await jobs.waitForResult(id, { timeoutSecs: o.waitSecs }).catch((err: { code?: string }) => {
        if (err.code === 'NUVOM_E_RESULT_TIMEOUT') {
          throw new NuvomError('NUVOM_E_RESULT_TIMEOUT', `requested ${id}, but it is still running after ${o.waitSecs}s; is its worker alive? (nuvom inspect job ${id})`);
        }
      });
      const rec = await jobs.getJob(id);
      if (rec?.status === 'CANCELLED') out(`cancelled ${id}`);
      else out(`${rec?.status.toLowerCase() ?? 'gone'} ${id}: it finished before its worker saw the cancel`);
    });
}
