/**
 * Shared pieces of the reliability tests: throwaway projects whose `import 'nuvom'` resolves to this
 * repository's build, a hand-written task manifest, real `nuvom` child processes (always killed in an
 * `after` hook), the side-effect log every test task appends to, and a seeded PRNG for the fuzzers.
 * Must never: sleep as synchronisation; wait on a process event or poll with a deadline instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from '../../sdk/index.ts';
import type { JobRecord } from '../../sdk/plugin.ts';
import { memoryLogger, REPO_ROOT, tempProject } from '../helpers/tmp.ts';

export { cleanupTempProjects, REPO_ROOT, waitFor } from '../helpers/tmp.ts';

/** Heavier variants (`npm run test:long`). */
export const LONG = Boolean(process.env.NUVOM_LONG);
export const BIN = path.join(REPO_ROOT, 'bin/nuvom.js');

/**
 * Tests that pin a bug found in this suite: skipped until the fix lands (see docs/reliability.md,
 * "Known gaps"); `NUVOM_KNOWN_BUGS=1` runs them to watch them fail.
 */
export const itKnownBug = (process.env.NUVOM_KNOWN_BUGS ? it : it.skip) as Mocha.PendingTestFunction;

/** The prelude of every test tasks module: `effect()` appends `<jobId> <attempt> <pid> <ms>` to effects.log. */
export const TASKS_PRELUDE = `import { task, currentJob } from 'nuvom';
import { appendFileSync } from 'node:fs';
const LOG = new URL('./effects.log', import.meta.url);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function effect() {
  const j = currentJob();
  appendFileSync(LOG, j.id + ' ' + j.attempt + ' ' + process.pid + ' ' + Date.now() + '\\n');
  return j;
}
`;

export interface TaskSpec {
  name: string;
  /** The export holding the task (default: the name). */
  export?: string;
  options?: Record<string, unknown>;
}

/** A temp project: package.json, tasks.mjs (`TASKS_PRELUDE` + `body`), node_modules/nuvom, manifest. */
export function project(body: string, tasks: TaskSpec[], extra: Record<string, string> = {}): string {
  const dir = tempProject({ 'package.json': '{ "type": "module" }', 'tasks.mjs': TASKS_PRELUDE + body, ...extra }, { linkNuvom: true });
  writeManifest(dir, tasks);
  return dir;
}

const SOURCE = /\.(c|m)?(j|t)sx?$/;

/**
 * Writes .nuvom/manifest.json by hand (not through discovery), complete enough that a worker finds it
 * fresh: every top-level source file is listed with its size and mtime, so write scripts first.
 */
export function writeManifest(dir: string, tasks: TaskSpec[], taskFile = 'tasks.mjs'): void {
  const files: Record<string, { hash: string; mtimeMs: number; size: number; tasks: string[] }> = {};
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    if (!SOURCE.test(name) || !statSync(abs).isFile()) continue;
    const st = statSync(abs);
    files[name] = {
      hash: createHash('sha1').update(readFileSync(abs)).digest('hex'), mtimeMs: st.mtimeMs, size: st.size,
      tasks: name === taskFile ? tasks.map((t) => t.name) : [],
    };
  }
  const manifest = {
    version: 1, generatedAt: new Date().toISOString(), root: dir, include: [], exclude: [],
    tasks: tasks.map((t, i) => ({ name: t.name, file: taskFile, export: t.export ?? t.name, line: i + 1, options: t.options ?? {} })),
    files,
  };
  mkdirSync(path.join(dir, '.nuvom'), { recursive: true });
  writeFileSync(path.join(dir, '.nuvom/manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------------
// child processes

export interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  out: string;
  err: string;
  /** Resolves when the process has exited. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

/** The parent's environment without NUVOM_* (so a developer's settings never leak into a test). */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NUVOM_')) env[k] = v;
  return env;
}

export function spawnNode(args: string[], opts: { cwd: string; env?: Record<string, string> }): Proc {
  const child = spawn(process.execPath, args, { cwd: opts.cwd, env: { ...cleanEnv(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const proc: Proc = {
    child,
    pid: child.pid!,
    out: '',
    err: '',
    exit: new Promise((resolve) => child.on('exit', (code, signal) => { live.delete(child); resolve({ code, signal }); })),
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { proc.out += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { proc.err += s; });
  return proc;
}

/** `nuvom --cwd dir ...args` as a child process. */
export function nuvom(dir: string, args: string[], env: Record<string, string> = {}): Proc {
  return spawnNode([BIN, '--cwd', dir, ...args], { cwd: dir, env });
}

/** SIGKILLs every child still running: call from `after`/`afterEach`, whatever the test's outcome. */
export async function killAll(): Promise<void> {
  const waits: Array<Promise<unknown>> = [];
  for (const c of live) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    waits.push(new Promise((resolve) => c.once('exit', resolve)));
    c.kill('SIGKILL');
  }
  await Promise.all(waits);
}

/** Waits for the exit; SIGKILLs the process and fails if it takes longer than `ms`. */
export async function exited(p: Proc, ms: number, what = 'the process'): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { p.child.kill('SIGKILL'); reject(new Error(`${what} did not exit within ${ms} ms\nstderr:\n${p.err.slice(-3000)}`)); }, ms);
  });
  try {
    const r = await Promise.race([p.exit, late]);
    return { ...r, ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `nuvom ...` to its end (default limit 30 s). */
export async function runNuvom(dir: string, args: string[], env: Record<string, string> = {}, ms = 30_000) {
  const p = nuvom(dir, args, env);
  const r = await exited(p, ms, `nuvom ${args.join(' ')}`);
  return { ...r, out: p.out, err: p.err };
}

/** A stack trace in CLI output: what a user must never see without --log-level debug. */
export const STACK = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

// ---------------------------------------------------------------------------------------------------
// side effects and records

export interface Effect { id: string; attempt: number; pid: number; at: number }

export function readEffects(dir: string): Effect[] {
  const file = path.join(dir, 'effects.log');
  if (!existsSync(file)) return [];
  const out: Effect[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [id, attempt, pid, at] = line.trim().split(' ');
    if (id && at) out.push({ id, attempt: Number(attempt), pid: Number(pid), at: Number(at) });
  }
  return out;
}

export function effectsByJob(effects: Effect[]): Map<string, Effect[]> {
  const m = new Map<string, Effect[]>();
  for (const e of effects) {
    const list = m.get(e.id);
    if (list) list.push(e);
    else m.set(e.id, [e]);
  }
  return m;
}

/** (jobId, attempt) pairs that ran more than once: must always be empty. */
export function duplicateAttempts(effects: Effect[]): string[] {
  const seen = new Set<string>();
  const dupes: string[] = [];
  for (const e of effects) {
    const k = `${e.id}#${e.attempt}`;
    if (seen.has(k)) dupes.push(k);
    seen.add(k);
  }
  return dupes;
}

/** A client on the project (same settings the children get through `env`), logging nowhere. */
export function openClient(dir: string, env: Record<string, string> = {}): Promise<Client> {
  return createClient({ cwd: dir, env, logger: memoryLogger().logger });
}

/** Every record in the result store, paged. */
export async function allRecords(client: Client): Promise<JobRecord[]> {
  const out: JobRecord[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await client.listJobs({ limit: 1000, offset, order: 'asc' });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** Enqueues `n` jobs of one task through the jobs service, in one batch. */
export async function enqueueMany(client: Client, taskName: string, argLists: unknown[][], call: Record<string, unknown> = {}): Promise<string[]> {
  const calls = argLists.map((args) => ({ taskName, taskOptions: {}, call: { ...call, args } }));
  const handles = await client.kernel.resolve('jobs').enqueue(calls);
  return handles.map((h) => h.id);
}

// ---------------------------------------------------------------------------------------------------
// fuzzing

/** mulberry32: a small seeded PRNG, so a failing fuzz case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fuzzers' seed: NUVOM_FUZZ_SEED to replay a failure, else fixed (the same cases on every run). */
export const FUZZ_SEED = Number(process.env.NUVOM_FUZZ_SEED ?? 20_260_101);

export function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)];
}

/** Random, truncated or bit-flipped variants of `valid`. */
export function mutate(rnd: () => number, valid: Buffer): { how: string; bytes: Buffer } {
  const kind = Math.floor(rnd() * 5);
  if (kind === 0) {
    const n = Math.floor(rnd() * valid.length);
    return { how: `truncated to ${n} bytes`, bytes: valid.subarray(0, n) };
  }
  if (kind === 1) {
    const b = Buffer.from(valid);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < flips; i++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
    return { how: `${flips} bit(s) flipped`, bytes: b };
  }
  if (kind === 2) {
    const n = Math.floor(rnd() * 256);
    return { how: `${n} random bytes`, bytes: Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256))) };
  }
  if (kind === 3) {
    const b = Buffer.from(valid);
    const at = Math.floor(rnd() * b.length);
    const junk = Buffer.from(pick(rnd, ['"', '{', '}', '[', ']', '=', '\n', '\u0000', '\\', '#', "'", '\udcff', ',']));
    return { how: `"${junk.toString('hex')}" inserted at ${at}`, bytes: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]) };
  }
  const at = Math.floor(rnd() * valid.length);
  const len = Math.floor(rnd() * 8);
  return { how: `${len} bytes cut at ${at}`, bytes: Buffer.concat([valid.subarray(0, at), valid.subarray(at + len)]) };
}
