/**
 * The SQLite plugin's definition: the default queue, result store, job store and schedule store
 * (better-sqlite3, WAL). The queue lives at sqliteQueuePath; results and schedules at
 * sqliteResultPath. Cheap to import: the stores (and the schema, the watcher, the codec) load at boot
 * only when config chooses "sqlite" for a service (ProvideOptions.load); better-sqlite3 when the first
 * file is opened (driver.ts). Nothing is opened until something resolves a chosen service.
 * Must never: import anything but the public SDK and this folder; import the stores at the top.
 */
import { definePlugin, pairJobStore, resolvePath } from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './driver.ts';
import { sqliteHealth } from './health.ts';
import { sqliteSettings } from './settings.ts';

type Stores = typeof import('./stores.ts');

const sqlitePlugin = definePlugin({
  name: PLUGIN_NAME,
  apiVersion: 1,
  description: 'SQLite queue, result store and schedule store (better-sqlite3, WAL); durable and multi-process on one host',
  provides: ['queue:sqlite', 'resultStore:sqlite', 'jobStore:sqlite', 'scheduleStore:sqlite'],
  settings: sqliteSettings,
  // The default distribution's storage: chosen unless a setting chooses another.
  defaults: { queueBackend: 'sqlite', resultBackend: 'sqlite', schedulerBackend: 'sqlite' },
  register(ctx) {
    const logger = ctx.logger;
    let m: Stores | undefined;
    const load = async () => { m ??= await import('./stores.ts'); };
    const { sqliteQueuePath, sqliteResultPath } = ctx.settings;
    // One checker for every service: doctor asks it once about the ones config chose "sqlite" for.
    const health = sqliteHealth({ queue: resolvePath(ctx.config, sqliteQueuePath), results: resolvePath(ctx.config, sqliteResultPath) });
    ctx.provide(
      'queue',
      'sqlite',
      (s) => new m!.SqliteQueue({ path: resolvePath(s.config, sqliteQueuePath), clock: s.clock, logger }),
      (queue) => queue.close(),
      { health, load },
    );
    ctx.provide(
      'resultStore',
      'sqlite',
      (s) => new m!.SqliteResultStore({ path: resolvePath(s.config, sqliteResultPath), serializer: s.serializer, logger }),
      (store) => store.close(),
      { health, load },
    );
    // Chosen when queueBackend and resultBackend are both "sqlite" (JobStore): one transaction per
    // batch when both are on one file; split files go through the generic pair.
    ctx.provide('jobStore', 'sqlite', (s) => {
      const queue = s.queue as InstanceType<Stores['SqliteQueue']>;
      const results = s.resultStore as InstanceType<Stores['SqliteResultStore']>;
      const oneFile = resolvePath(s.config, sqliteQueuePath) === resolvePath(s.config, sqliteResultPath);
      return oneFile ? new m!.SqliteJobStore(queue, results) : pairJobStore(queue, results, s.serializer);
    }, undefined, { load });
    ctx.provide(
      'scheduleStore',
      'sqlite',
      (s) => new m!.SqliteScheduleStore({ path: resolvePath(s.config, sqliteResultPath), logger }),
      (store) => store.close(),
      { health, load },
    );
  },
});

export default sqlitePlugin;
