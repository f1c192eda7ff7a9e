/**
 * The contracts every plugin implements or consumes, one file per seam under contracts/ (this module
 * re-exports them all; nuvom/plugin exports this module). Types only: no behaviour lives here.
 *
 * Glossary
 * - task:    a named function plus options (retries, timeout, ...); the template for jobs.
 * - job:     one invocation of a task with its arguments; identified by `id`.
 * - queue:   delivers jobs to workers, at least once. A claimed job is held under a lease.
 * - lease:   a worker's claim on a job until `leaseExpiresAt`; renewed by the worker's main thread.
 *            A job whose lease expires is delivered again (redelivery), with `attempts` counting up.
 * - attempt: one run of a job. `attempts` counts the runs started (claims), including redeliveries.
 * - history: the record's bounded list of its attempts (AttemptRecord), oldest first; a retried
 *            (re-run) job keeps the attempts of its earlier runs there.
 * - record:  the job's user-visible state (api.md "Job record"), kept by the result store.
 *
 * Every storage method returns a Promise, even where SQLite is synchronous underneath, so that a
 * network backend (PostgreSQL, Redis) fits the same contract.
 */
export * from './contracts/queue.ts';
export * from './contracts/results.ts';
export * from './contracts/job-store.ts';
export * from './contracts/runtime.ts';
export * from './contracts/schedules.ts';
export * from './contracts/health.ts';
