/**
 * `nuvom`: the task API and the client. Plugin authors import `nuvom/plugin`; conformance tests
 * import `nuvom/testing`.
 */
export { task, getTask, registerTask, inTransaction, type MapOptions, type RegisterOptions, type Task, type TaskOptions, type JobHandle, type EnqueueOptions, type ResultOptions, type ScheduleHandle, type JobInfo } from './task.ts';
export { currentJob } from './current-job.ts';
export type { NuvomTaskMap, TaskName, TaskArgsOf, TaskResultOf, ResultType, TaskTypesOf, MethodTaskTypesOf } from './task-map.ts';
export { createClient, getDefaultClient, type Client, type ClientOptions } from './client.ts';
export type { RunningWorker, WorkerOptions } from './services.ts';
export { NuvomError, isNuvomError, type ErrorCode } from '../kernel/errors.ts';
export type {
  JobRecord, JobStatus, JobError, ListJobsFilter, AttemptRecord, AttemptOutcome, TimeoutPolicy, Backoff, Trigger, ScheduleEntry,
} from '../kernel/index.ts';
