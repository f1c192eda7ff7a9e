/**
 * Scheduler plugin: the `scheduler` service (task.schedule(), listSchedules, cancelSchedule, the
 * loop that turns due schedules into jobs) and the `runscheduler` / `schedule` commands.
 * Schedules live in the `scheduleStore` service the configuration chooses (NUVOM_SCHEDULER_BACKEND).
 * Must never: import anything but the public SDK and this folder.
 */
import { definePlugin } from '../../sdk/plugin.ts';
import { addSchedulerCommands } from './cli.ts';
import { Scheduler } from './scheduler.ts';

export { Scheduler, type SchedulerDeps, type SchedulerTuning, type RunHandle } from './scheduler.ts';
export { parseTrigger, timeline, describeTrigger, type ScheduleTrigger, type TriggerSpec, type Timeline } from './trigger.ts';

export default definePlugin({
  name: 'nuvom-scheduler',
  apiVersion: 1,
  description: 'one-off, interval and cron schedules that fire once per fire time; `nuvom runscheduler`, `nuvom schedule`',
  provides: ['scheduler', 'cli'],
  dependsOn: ['nuvom-jobs'],
  needs: ['scheduleStore', 'serializer'],
  register(ctx) {
    ctx.provide('scheduler', 'default', (s) => new Scheduler({
      config: s.config,
      clock: s.clock,
      logger: ctx.logger,
      serializer: s.serializer,
      // Built before the scheduler, so disposed after it: a loop never outlives its store.
      scheduleStore: s.scheduleStore,
      registry: s.registry,
      // One plugin chosen for schedules, queue and results: its schedule store and job store share a
      // database, so a fire time and its job can commit in one transaction (claimDueInTransaction).
      pairedJobStore: s.config.schedulerBackend !== '' && s.config.schedulerBackend === s.config.queueBackend && s.config.queueBackend === s.config.resultBackend,
      // On first use: `schedule list` and `schedule cancel` need no queue.
      get jobs() { return s.jobs; },
    }), (scheduler) => (scheduler as Scheduler).close());
    ctx.hooks.cli.tap('nuvom-scheduler', ({ program }) => addSchedulerCommands(program, ctx));
  },
});
