/**
 * The built-in SQLite plugin (`nuvom/plugins/sqlite`): the default queue, result store and schedule
 * store (better-sqlite3, WAL). The queue lives at sqliteQueuePath; results and schedules at
 * sqliteResultPath. Services on the same file share one connection (db.ts). Nothing is opened until
 * config chooses "sqlite" for a service and something resolves it. The definition is plugin.ts (what
 * the presets load); this module adds the stores for direct use.
 * Must never: import anything but the public SDK and this folder.
 */
export { SqliteQueue, type SqliteQueueOptions } from './queue.ts';
export { SqliteResultStore, type SqliteResultStoreOptions } from './results.ts';
export { SqliteScheduleStore, type SqliteScheduleStoreOptions } from './schedules.ts';
export { SCHEMA_VERSION } from './schema.ts';
export { SqliteJobStore } from './job-store.ts';
export { default } from './plugin.ts';
