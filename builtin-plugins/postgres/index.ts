/**
 * The built-in PostgreSQL plugin: queue, result store and schedule store on one PostgreSQL schema,
 * for workers on many hosts. Chosen by NUVOM_QUEUE_BACKEND / NUVOM_RESULT_BACKEND /
 * NUVOM_SCHEDULER_BACKEND = postgres; until one is chosen and resolved nothing connects and `pg` is
 * not even imported (db.ts imports it on first use). Adds `nuvom migrate` through the cli hook.
 * Must never: import anything but the public SDK and this folder; load pg for an app on SQLite.
 */
import { definePlugin } from '../../sdk/plugin.ts';
import { PgJobStore } from './job-store.ts';
import { addMigrateCommand } from './cli.ts';
import { PgQueue } from './queue.ts';
import { PgResultStore } from './results.ts';
import { PgScheduleStore } from './schedules.ts';
import { PLUGIN_NAME, postgresSettings, type PostgresSettings } from './settings.ts';

export { PgQueue, type PgQueueOptions, type PgEnqueueOptions } from './queue.ts';
export { PgResultStore, type PgResultStoreOptions } from './results.ts';
export { PgJobStore } from './job-store.ts';
export { PgScheduleStore, type PgScheduleStoreOptions } from './schedules.ts';
export { LATEST as SCHEMA_VERSION } from './schema.ts';
export { readSettings, SETTINGS, type PostgresSettings } from './settings.ts';

const postgresPlugin = definePlugin({
  name: PLUGIN_NAME,
  apiVersion: 1,
  description: 'PostgreSQL queue, result store and schedule store (pg, SKIP LOCKED claims, LISTEN/NOTIFY); workers on many hosts',
  provides: ['queue:postgres', 'resultStore:postgres', 'jobStore:postgres', 'scheduleStore:postgres', 'cli'],
  settings: postgresSettings(),
  register(ctx) {
    const logger = ctx.logger;
    const settings = (): PostgresSettings => ({ ...ctx.settings });
    ctx.provide('queue', 'postgres', (s) => new PgQueue({ settings: settings(), clock: s.clock, logger }), (q) => q.close());
    ctx.provide('resultStore', 'postgres', (s) => new PgResultStore({ settings: settings(), serializer: s.serializer, logger }), (st) => st.close());
    // Chosen when queueBackend and resultBackend are both "postgres": one row per job, one write per step.
    ctx.provide('jobStore', 'postgres', (s) => new PgJobStore(s.queue as PgQueue, s.resultStore as PgResultStore));
    ctx.provide('scheduleStore', 'postgres', () => new PgScheduleStore({ settings: settings(), logger }), (st) => st.close());
    ctx.hooks.cli.tap(PLUGIN_NAME, ({ program }) => addMigrateCommand(program, ctx, settings));
  },
});

export default postgresPlugin;
