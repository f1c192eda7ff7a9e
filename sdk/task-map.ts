/**
 * Task names as types. `nuvom discover tasks` writes a declaration file (.nuvom/tasks.d.ts) that
 * augments `NuvomTaskMap` with every discovered task's argument and result types, taken by type
 * queries from the task modules themselves; `client.enqueue(name, args)` and `client.result<name>()`
 * consult it, so code that never imports a task module (an API server) is checked by name.
 * With the map empty (no declaration file) every name is allowed and arguments are `unknown[]`.
 * Must never: hold values; types only.
 */
import type { Task } from './task.ts';

/**
 * Task name -> `{ args; result }`. Empty here; augmented by the generated declaration file:
 * `declare module 'nuvom' { interface NuvomTaskMap { add: { args: [x: number, y: number]; result: number } } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-empty-object-type
export interface NuvomTaskMap {}

type Untyped = { args: unknown[]; result: unknown };

/** The names `client.enqueue` accepts: the map's keys, or any string while the map is empty. */
export type TaskName = [keyof NuvomTaskMap] extends [never] ? string : Extract<keyof NuvomTaskMap, string>;

/** The argument tuple of the task named N (`unknown[]` for a name the map does not hold). */
export type TaskArgsOf<N> = N extends keyof NuvomTaskMap ? (NuvomTaskMap[N] extends { args: infer A extends unknown[] } ? A : unknown[]) : unknown[];

/** The result of the task named N (`unknown` for a name the map does not hold). */
export type TaskResultOf<N> = N extends keyof NuvomTaskMap ? (NuvomTaskMap[N] extends { result: infer R } ? R : unknown) : unknown;

/** `client.result<T>()`: a task's name gives that task's result type; any other T is the result type itself. */
export type ResultType<T> = [T] extends [keyof NuvomTaskMap] ? TaskResultOf<T> : T;

/** `{ args; result }` of a task object (what `task()` returns) or of a plain function. */
export type TaskTypesOf<T> = T extends Task<infer A, infer R>
  ? { args: A; result: Awaited<R> }
  : T extends (...args: infer A) => infer R ? { args: A; result: Awaited<R> } : Untyped;

/** `{ args; result }` of the method K of class C decorated with `@task` (an instance method, else a static one). */
export type MethodTaskTypesOf<C, K extends PropertyKey> = C extends { prototype: infer P }
  ? K extends keyof P ? TaskTypesOf<P[K]> : K extends keyof C ? TaskTypesOf<C[K]> : Untyped
  : Untyped;
