/** The SQLite plugin's stores, in one module for plugin.ts to load when config chooses them. */
export { SqliteQueue } from './queue.ts';
export { SqliteResultStore } from './results.ts';
export { SqliteScheduleStore } from './schedules.ts';
export { SqliteJobStore } from './job-store.ts';
