/**
 * The PostgreSQL plugin's definition: queue, result store and schedule store on one PostgreSQL
 * schema, for workers on many hosts. Chosen by NUVOM_QUEUE_BACKEND / NUVOM_RESULT_BACKEND /
 * NUVOM_SCHEDULER_BACKEND = postgres. Cheap to import: the stores load at boot only when config
 * chooses "postgres" for a service (ProvideOptions.load), and `pg` on first connection (db.ts).
 * Adds `nuvom migrate` through the cli hook.
 * Must never: import anything but the public SDK and this folder; import the stores at the top;
 * load pg for an app on SQLite.
 */
import { definePlugin } from '../../sdk/plugin.ts';
import { addMigrateCommand } from './cli.ts';
import { PLUGIN_NAME, postgresSettings, type PostgresSettings } from './settings.ts';

type Stores = typeof import('./stores.ts');

const postgresPlugin = definePlugin({
  name: PLUGIN_NAME,
  apiVersion: 1,
  description: 'PostgreSQL queue, result store and schedule store (pg, SKIP LOCKED claims, LISTEN/NOTIFY); workers on many hosts',
  provides: ['queue:postgres', 'resultStore:postgres', 'jobStore:postgres', 'scheduleStore:postgres', 'cli'],
  settings: postgresSettings(),
  register(ctx) {
    const logger = ctx.logger;
    const settings = (): PostgresSettings => ({ ...ctx.settings });
    let m: Stores | undefined;
    const load = async () => { m ??= await import('./stores.ts'); };
    ctx.provide('queue', 'postgres', (s) => new m!.PgQueue({ settings: settings(), clock: s.clock, logger }), (q) => q.close(), { load });
    ctx.provide('resultStore', 'postgres', (s) => new m!.PgResultStore({ settings: settings(), serializer: s.serializer, logger }), (st) => st.close(), { load });
    // Chosen when queueBackend and resultBackend are both "postgres": one row per job, one write per step.
    ctx.provide('jobStore', 'postgres', (s) => new m!.PgJobStore(s.queue as InstanceType<Stores['PgQueue']>, s.resultStore as InstanceType<Stores['PgResultStore']>), undefined, { load });
    ctx.provide('scheduleStore', 'postgres', () => new m!.PgScheduleStore({ settings: settings(), logger }), (st) => st.close(), { load });
    ctx.hooks.cli.tap(PLUGIN_NAME, ({ program }) => addMigrateCommand(program, ctx, settings));
  },
});

export default postgresPlugin;
