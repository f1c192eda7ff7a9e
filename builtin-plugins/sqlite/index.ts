/**
 * The built-in SQLite plugin: the default queue, result store and schedule store (better-sqlite3, WAL).
 * The queue lives at sqliteQueuePath; results and schedules at sqliteResultPath. Services on the same
 * file share one connection (db.ts). Nothing is opened until config chooses "sqlite" for a service and
 * something resolves it.
 * Must never: import anything but the public SDK and this folder.
 */
import { definePlugin, pairJobStore, resolvePath } from '../../sdk/plugin.ts';
import { PLUGIN_NAME } from './db.ts';
import { SqliteQueue } from './queue.ts';
import { SqliteResultStore } from './results.ts';
import { SqliteScheduleStore } from './schedules.ts';
import { SqliteJobStore } from './job-store.ts';
import { sqliteSettings } from './settings.ts';
import { sqliteHealth } from './health.ts';

export { SqliteQueue, type SqliteQueueOptions } from './queue.ts';
export { SqliteResultStore, type SqliteResultStoreOptions } from './results.ts';
export { SqliteScheduleStore, type SqliteScheduleStoreOptions } from './schedules.ts';
export { SCHEMA_VERSION } from './schema.ts';
export { SqliteJobStore } from './job-store.ts';

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
    const { sqliteQueuePath, sqliteResultPath } = ctx.settings;
    // One checker for every service: doctor asks it once about the ones config chose "sqlite" for.
    const health = sqliteHealth({ queue: resolvePath(ctx.config, sqliteQueuePath), results: resolvePath(ctx.config, sqliteResultPath) });
    ctx.provide(
      'queue',
      'sqlite',
      (s) => new SqliteQueue({ path: resolvePath(s.config, sqliteQueuePath), clock: s.clock, logger }),
      (queue) => queue.close(),
      { health },
    );
    ctx.provide(
      'resultStore',
      'sqlite',
      (s) => new SqliteResultStore({ path: resolvePath(s.config, sqliteResultPath), serializer: s.serializer, logger }),
      (store) => store.close(),
      { health },
    );
    // Chosen when queueBackend and resultBackend are both "sqlite" (JobStore): one transaction per
    // batch when both are on one file; split files go through the generic pair.
    ctx.provide('jobStore', 'sqlite', (s) => {
      const queue = s.queue as SqliteQueue;
      const results = s.resultStore as SqliteResultStore;
      const oneFile = resolvePath(s.config, sqliteQueuePath) === resolvePath(s.config, sqliteResultPath);
      return oneFile ? new SqliteJobStore(queue, results) : pairJobStore(queue, results, s.serializer);
    });
    ctx.provide(
      'scheduleStore',
      'sqlite',
      (s) => new SqliteScheduleStore({ path: resolvePath(s.config, sqliteResultPath), logger }),
      (store) => store.close(),
      { health },
    );
  },
});

export default sqlitePlugin;
