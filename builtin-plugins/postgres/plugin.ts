/**
 * The PostgreSQL plugin's definition: queue, result store and schedule store on one PostgreSQL
 * schema, for workers on many hosts. Chosen by NUVOM_QUEUE_BACKEND / NUVOM_RESULT_BACKEND /
 * NUVOM_SCHEDULER_BACKEND = postgres. Cheap to import: the stores load at boot only when config
 * chooses "postgres" for a service (ProvideOptions.load), and `pg` on first connection (db.ts).
 * Adds `nuvom migrate` through the cli hook.
 * Must never: import anything but the public SDK and this folder; import the stores at the top;
 * load pg for an app on SQLite.
 */
import { configVariables, definePlugin } from '../../sdk/plugin.ts';
import { addMigrateCommand } from './cli.ts';
import { dropIsolatedSchema } from './db.ts';
import { postgresHealth } from './health.ts';
import { PLUGIN_NAME, libpqVariables, postgresSettings, type ConnectionSettings } from './settings.ts';

type Stores = typeof import('./stores.ts');

const postgresPlugin = definePlugin({
  name: PLUGIN_NAME,
  apiVersion: 1,
  description: 'PostgreSQL queue, result store and schedule store (pg, SKIP LOCKED claims, LISTEN/NOTIFY); workers on many hosts',
  provides: ['queue:postgres', 'resultStore:postgres', 'jobStore:postgres', 'scheduleStore:postgres', 'cli'],
  settings: postgresSettings(),
  register(ctx) {
    const logger = ctx.logger;
    // An isolated kernel (`nuvom plugin test`) works in a schema of its own, dropped when its services are.
    const isolation = typeof ctx.config.isolation === 'string' ? ctx.config.isolation : null;
    // libpq's variables as the loader read them, so that PGHOST and the others count from .env too.
    const libpq = libpqVariables(configVariables(ctx.config));
    const settings = (): ConnectionSettings => ({ ...ctx.settings, libpq, ...(isolation ? { postgresSchema: isolatedSchema(ctx.settings.postgresSchema, isolation) } : {}) });
    // Whoever closes a store of an isolated kernel (the kernel, or the conformance case that built it) drops its schema.
    const own = <T extends { close(): Promise<void> }>(store: T): T => {
      if (!isolation) return store;
      const close = store.close.bind(store);
      store.close = async () => {
        await close();
        await dropIsolatedSchema(settings(), logger);
      };
      return store;
    };
    let m: Stores | undefined;
    const load = async () => { m ??= await import('./stores.ts'); };
    // For `nuvom doctor`: one checker for the three services (they share the schema).
    const health = postgresHealth(settings);
    ctx.provide('queue', 'postgres', (s) => own(new m!.PgQueue({ settings: settings(), clock: s.clock, logger })), (q) => q.close(), { load, health });
    ctx.provide('resultStore', 'postgres', (s) => own(new m!.PgResultStore({ settings: settings(), serializer: s.serializer, logger })), (st) => st.close(), { load, health });
    // Chosen when queueBackend and resultBackend are both "postgres": one row per job, one write per step.
    ctx.provide('jobStore', 'postgres', (s) => new m!.PgJobStore(s.queue as InstanceType<Stores['PgQueue']>, s.resultStore as InstanceType<Stores['PgResultStore']>), undefined, { load });
    ctx.provide('scheduleStore', 'postgres', () => own(new m!.PgScheduleStore({ settings: settings(), logger })), (st) => st.close(), { load, health });
    ctx.hooks.cli.tap(PLUGIN_NAME, ({ program }) => addMigrateCommand(program, ctx, settings));
  },
});

/** The schema an isolated kernel works in: the configured one with the isolation id, within PostgreSQL's 63 characters. */
function isolatedSchema(schema: string, isolation: string): string {
  const name = `${schema}_t${isolation}`;
  return name.length <= 63 ? name : `nuvom_t${isolation}`;
}

export default postgresPlugin;
