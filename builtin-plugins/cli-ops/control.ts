/**
 * `nuvom retry job JOB_ID` and `nuvom cancel job JOB_ID`: job control from the shell, over the jobs
 * service (builtin-plugins/jobs). A refusal (a SUCCESS job retried, a finished job cancelled, an
 * unknown id) is a NuvomError that cli/main.ts prints as one line, exit 1.
 * Must never: decide itself what may be retried or cancelled; the jobs service holds those rules.
 */
import type { Command } from 'commander';
import type { PluginContext } from '../../sdk/plugin.ts';
import { cliFormat } from '../../sdk/plugin.ts';

const { out } = cliFormat;
import { example, parent } from './options.ts';

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
    .description("cancel a PENDING or RETRYING job; a RUNNING job's signal is aborted (prints cancelled or signalled)")
    .argument('<jobId>', 'the id `nuvom enqueue` printed (or one from `nuvom history recent`)')
    .addHelpText('after', example(`$ nuvom cancel job ${ID}`, `cancelled ${ID}`))
    .action(async (id: string) => {
      const outcome = await ctx.resolve('jobs').cancelJob(id);
      out(outcome === 'cancelled'
        ? `cancelled ${id}`
        : `signalled ${id}: it is running; its worker aborts the task's signal and records it CANCELLED`);
    });
}
