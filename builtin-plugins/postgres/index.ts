/**
 * The built-in PostgreSQL plugin (`nuvom/plugins/postgres`): queue, result store and schedule store on
 * one PostgreSQL schema, for workers on many hosts. The definition is plugin.ts (what the presets
 * load, with the stores loaded only when chosen); this module adds the stores for direct use.
 * Must never: import anything but the public SDK and this folder.
 */
export { PgQueue, type PgQueueOptions, type PgEnqueueOptions } from './queue.ts';
export { PgResultStore, type PgResultStoreOptions } from './results.ts';
export { PgJobStore } from './job-store.ts';
export { PgScheduleStore, type PgScheduleStoreOptions } from './schedules.ts';
export { LATEST as SCHEMA_VERSION } from './schema.ts';
export { readSettings, SETTINGS, type ConnectionSettings, type PostgresSettings } from './settings.ts';
export { default } from './plugin.ts';
