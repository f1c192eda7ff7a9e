/** The PostgreSQL plugin's stores, in one module for plugin.ts to load when config chooses them. */
export { PgQueue } from './queue.ts';
export { PgResultStore } from './results.ts';
export { PgJobStore } from './job-store.ts';
export { PgScheduleStore } from './schedules.ts';
