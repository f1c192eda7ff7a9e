/**
 * `currentJob()`: the running job's id, task, attempt and abort signal, from inside a task.
 * The store lives on globalThis so that the worker runner and the user's copy of `nuvom` share it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { JobInfo } from './task.ts';

const KEY = Symbol.for('nuvom.currentJob.v1');

function store(): AsyncLocalStorage<JobInfo> {
  const g = globalThis as unknown as Record<symbol, AsyncLocalStorage<JobInfo> | undefined>;
  return (g[KEY] ??= new AsyncLocalStorage<JobInfo>());
}

/** The job running in this async context, or null outside a job. */
export function currentJob(): JobInfo | null {
  return store().getStore() ?? null;
}

/**
 * Runs `fn(...args)` with `info` as the current job (used by the worker runner); `this` is undefined
 * in `fn` (through Reflect.apply: AsyncLocalStorage.run would pass null), and no closure is made.
 */
export function runInJob<A extends unknown[], T>(info: JobInfo, fn: (...args: A) => T, args?: A): T {
  return args ? store().run(info, Reflect.apply, fn, undefined, args) as T : store().run(info, fn as () => T);
}
