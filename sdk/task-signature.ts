/**
 * A task function's parameters as discovery read them from the source, and the checks on a call by
 * name against them (`nuvom enqueue`): printing `add(x: number, y: number)`, and saying what is
 * wrong with an argument count. Tasks receive exactly the job's arguments (the abort signal and job
 * info come from `currentJob()`, not a trailing parameter), so every parameter counts.
 * Must never: guess; no signature means no check.
 */

/** One parameter of a task function, as written in the source. */
export interface TaskParam {
  /** Its identifier, or the pattern's source text for a destructured parameter (`{ id, to }`). */
  name: string;
  /** The written type annotation (`number`, `{ id: string }`), when there is one. */
  type?: string;
  /** `x?: T`, or a parameter with a default value. */
  optional?: true;
  /** The default value's source text (`x = 3` -> "3"). */
  default?: string;
  /** `...rest`: any number of further arguments. */
  rest?: true;
}

export interface TaskSignature {
  params: TaskParam[];
  /** How many arguments a call must pass: up to the last parameter that is neither optional, defaulted nor rest. */
  required: number;
}

/** The most arguments a call may pass, or null for no limit (a rest parameter). */
export function maxArgs(sig: TaskSignature): number | null {
  return sig.params.some((p) => p.rest) ? null : sig.params.length;
}

/** `add(x: number, y?: string, z = 3, ...more: string[])`. */
export function formatSignature(name: string, sig: TaskSignature): string {
  const one = (p: TaskParam) => `${p.rest ? '...' : ''}${p.name}${p.optional && p.default === undefined ? '?' : ''}`
    + `${p.type !== undefined ? `: ${p.type}` : ''}${p.default !== undefined ? ` = ${p.default}` : ''}`;
  return `${name}(${sig.params.map(one).join(', ')})`;
}

/** What is wrong with calling the task with `count` arguments, or null when the count fits. */
export function argCountProblem(sig: TaskSignature, count: number): string | null {
  const max = maxArgs(sig);
  if (count >= sig.required && (max === null || count <= max)) return null;
  const expected = max === null
    ? `at least ${sig.required}`
    : sig.required === max ? `${max}` : `${sig.required} to ${max}`;
  return `expects ${expected} argument${(max ?? sig.required) === 1 ? '' : 's'}, got ${count}`;
}

/** Why `v` (read from a manifest: untrusted) is not a TaskSignature, or null when it is one. */
export function signatureShapeProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not an object';
  const s = v as { params?: unknown; required?: unknown };
  if (!Array.isArray(s.params)) return 'params is not a list';
  if (!Number.isInteger(s.required) || (s.required as number) < 0 || (s.required as number) > s.params.length) return 'required is not a count of its params';
  for (const [i, p] of s.params.entries()) {
    if (typeof p !== 'object' || p === null || typeof (p as TaskParam).name !== 'string') return `params[${i}] has no name`;
    const q = p as Record<string, unknown>;
    if (q.type !== undefined && typeof q.type !== 'string') return `params[${i}].type is not a string`;
    if (q.default !== undefined && typeof q.default !== 'string') return `params[${i}].default is not a string`;
    if (q.optional !== undefined && q.optional !== true) return `params[${i}].optional is not true`;
    if (q.rest !== undefined && q.rest !== true) return `params[${i}].rest is not true`;
  }
  return null;
}
