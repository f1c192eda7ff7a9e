/**
 * `nuvom/plugin`: everything a plugin author (built-in or third-party) may import. Built-in plugins
 * import only this module and `nuvom/testing`.
 */
export * from '../kernel/index.ts';
export { getTask, isTask, registerTask, taskTable, checkOptions, optionProblem, CALL_KEYS, currentTransaction, type AnyTask, type Task, type TaskOptions, type JobInfo, type JobHandle, type EnqueueOptions, type TaskDispatch, type ScheduleHandle, type ResultOptions } from './task.ts';
export { currentJob, runInJob } from './current-job.ts';
export type * from './services.ts';
export { argsBytesOf, rememberArgsBytes, markIdGenerated, idGenerated, iso, storedIso, LATEST_RUN_AT, jobOptions, recordOf, errorOf, toError, attemptOf, mergeHistory, historyOf, idPrefixOf, HISTORY_LIMIT, HISTORY_STACK_LINES, MAX_VALUE_BYTES, valueTooBig, type RecordState, type StoredAttempts } from './records.ts';
export * as cliFormat from './cli-format.ts';
export { maskSecrets, SECRET_MASK } from './secrets.ts';
export { manifestRootProblem } from './project-paths.ts';
export { resolveJobId, MIN_ID_PREFIX } from './job-ids.ts';
export { taskNameProblem } from './task-names.ts';
export { jobStoreOf, pairJobStore } from './job-store.ts';
export { ChangeListeners, checkLeaseMs, checkRecords, checkWorkerId, claimArgs, duplicateJob, listQuery, processAlive, renewArgs, type ListQuery } from './storage-kit.ts';
export { claimStep, fireOfHold, holdRow, scheduleFromRow, scheduleToRow, SCHEDULE_COLUMNS, type ClaimStep, type ScheduleRow } from './storage-kit/schedule-rows.ts';
/** Where nuvom's own modules are, source or built (the built package is bundled): for the built-in plugins. */
export { ownModuleUrl, PACKAGE_ROOT } from './own-files.ts';
export { argCountProblem, formatSignature, maxArgs, signatureShapeProblem, type TaskParam, type TaskSignature } from './task-signature.ts';
