/**
 * Shared pieces of the operations commands: option parsers that turn bad values into usage errors
 * (exit 2), parent commands another plugin may already have added, and the guard that turns "this
 * backend cannot do that" into one clear line (exit 1) instead of a TypeError or a stack trace.
 * Must never: call process.exit; cli/main.ts owns exit codes.
 */
import type { Command } from 'commander';
import { isNuvomError, JOB_STATUSES, messageOf, NuvomError, type JobStatus, type PluginContext, type ResultStore } from '../../sdk/plugin.ts';

/** A parser for a whole number >= 1. */
export function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 1) throw new NuvomError('NUVOM_E_USAGE', `${flag} must be a whole number >= 1, got "${v}"`);
    return n;
  };
}

/** A parser for one status or a comma-separated list, case-insensitive, from `allowed`. */
export function statusList(flag: string, allowed: readonly JobStatus[] = JOB_STATUSES, why = '') {
  return (v: string): JobStatus[] => {
    const list = v.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    const bad = list.filter((s) => !allowed.includes(s as JobStatus));
    if (list.length === 0 || bad.length) {
      throw new NuvomError('NUVOM_E_USAGE', `${flag} must be one of ${allowed.join(', ')} (or several, comma-separated), got "${v}"${why}`);
    }
    return [...new Set(list)] as JobStatus[];
  };
}

/** A parser for one of `values`, case-insensitive. */
export function choice<T extends string>(flag: string, values: readonly T[]) {
  return (v: string): T => {
    const c = v.trim().toLowerCase() as T;
    if (!values.includes(c)) throw new NuvomError('NUVOM_E_USAGE', `${flag} must be one of ${values.join(', ')}, got "${v}"`);
    return c;
  };
}

/** The parent command `name` (another plugin may have added it), or a new one with its help example. */
export function parent(program: Command, name: string, description: string, example: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (found) return found;
  return program.command(name).description(description).addHelpText('after', `\nExample:\n  $ ${example}`);
}

export const example = (...lines: string[]) => `\nExample:\n${lines.map((l) => `  ${l}`).join('\n')}`;

/**
 * Runs `fn`, which needs the result store's `method`; when the backend lacks it or says
 * NUVOM_E_UNSUPPORTED, throws one NuvomError naming the command, the backend, and what to do.
 */
export async function needs<T>(ctx: PluginContext, method: keyof ResultStore, command: string, what: string, fn: () => Promise<T>): Promise<T> {
  const unsupported = (why: string) => new NuvomError('NUVOM_E_UNSUPPORTED',
    `\`nuvom ${command}\` needs to ${what}, which the "${ctx.config.resultBackend}" result backend does not support (${why}); `
    + 'choose a backend that does with NUVOM_RESULT_BACKEND, e.g. sqlite');
  const store = ctx.resolve('resultStore');
  if (typeof store[method] !== 'function') throw unsupported(`it has no ${method}()`);
  try {
    return await fn();
  } catch (err) {
    if (isNuvomError(err, 'NUVOM_E_UNSUPPORTED')) throw unsupported(messageOf(err));
    throw err;
  }
}
