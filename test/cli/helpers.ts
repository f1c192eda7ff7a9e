/**
 * Running the `nuvom` binary as a real child process against a throwaway project whose
 * `import 'nuvom'` resolves to this repository (its dist/ build, see docs/contributing.md).
 * Must never: sleep as synchronisation; `waitFor` polls with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, tempProject } from '../helpers/tmp.ts';

export { cleanupTempProjects, waitFor } from '../helpers/tmp.ts';

export const BIN = path.join(REPO_ROOT, 'bin/nuvom.js');

/** add, boom (throws a TypeError) and slow (waits, stops when its signal aborts). */
export const TASKS = `import { task, currentJob } from 'nuvom';
export const add = task({ name: 'add' }, async (a, b) => a + b);
export const boom = task({ name: 'boom' }, async (msg) => { throw new TypeError(msg); });
export const slow = task({ name: 'slow', timeoutSecs: 120 }, (ms) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  currentJob().signal.addEventListener('abort', () => { clearTimeout(t); reject(new Error('stopped')); });
}));
`;

export interface Project {
  dir: string;
  env: Record<string, string>;
}

export function project(files: Record<string, string> = {}): Project {
  const dir = tempProject({ 'package.json': '{ "type": "module" }', 'tasks.mjs': TASKS, ...files }, { linkNuvom: true });
  return { dir, env: { NUVOM_SQLITE_PATH: path.join(dir, '.nuvom', 'cli-test.db') } };
}

/** The parent's environment without what changes CLI output (NUVOM_*, colour and width settings). */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('NUVOM_') && !['NO_COLOR', 'FORCE_COLOR', 'COLUMNS'].includes(k)) env[k] = v;
  }
  return env;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

/** Starts `nuvom --cwd <dir> ...args`; `done` resolves with its exit code and output. */
export function start(p: Project, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, '--cwd', p.dir, ...args], {
    cwd: p.dir, env: { ...cleanEnv(), ...p.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const r: Run = { code: null, stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { r.stdout += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { r.stderr += s; });
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => { live.delete(child); r.code = code; resolve(r); });
  });
  return { child, output: r, done };
}

/** Runs `nuvom --cwd <dir> ...args` to its end. */
export function nuvom(p: Project, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return start(p, args, env).done;
}

/** Runs a command that must succeed and print JSON: returns the parsed stdout. */
export async function json<T = unknown>(p: Project, args: string[]): Promise<T> {
  const r = await nuvom(p, args);
  if (r.code !== 0) throw new Error(`nuvom ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** SIGKILLs children still running (call from `after`). */
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** A stack trace line: what a user must never see in an error (without --log-level debug). */
export const STACK = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

/** One `error:` line on stderr (and hints), nothing on stdout, the given exit code, no stack trace. */
export function failedWith(r: Run, code: number, text: string | RegExp): void {
  // Commander adds hints in parentheses ("(Did you mean history?)", "(run with --help for usage)").
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !/^\(.*\)$/.test(l));
  const ok = r.code === code && r.stdout === '' && lines.length === 1 && lines[0].startsWith('error: ')
    && (typeof text === 'string' ? lines[0].includes(text) : text.test(lines[0])) && !STACK.test(r.stderr);
  if (!ok) throw new Error(`expected exit ${code} with one error line matching ${text}, got exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}
