/**
 * Helpers for the scheduler tests: a clock the test moves, a kernel booted with the real built-in
 * plugins on memory or SQLite backends, and a way to read back which fire times became jobs.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import serializers from '../../builtin-plugins/serializers/index.ts';
import registry from '../../builtin-plugins/registry/index.ts';
import jobs from '../../builtin-plugins/jobs/index.ts';
import memory from '../../builtin-plugins/memory/index.ts';
import sqlite from '../../builtin-plugins/sqlite/index.ts';
import scheduler from '../../builtin-plugins/scheduler/index.ts';
import { bootKernel, loadConfig, type Clock, type Kernel } from '../../sdk/plugin.ts';
import type { ScheduleTrigger } from '../../builtin-plugins/scheduler/index.ts';
import type { ScheduleHandle, SchedulerService, TaskOptionsSnapshot } from '../../sdk/plugin.ts';

/** What the scheduler needs of a task (a task object fits). */
export type TaskLike = { name: string; options: TaskOptionsSnapshot };
import { memoryLogger, REPO_ROOT, tempProject } from '../helpers/tmp.ts';

export type Backend = 'memory' | 'sqlite';

/** Time that moves only when the test says so. */
export class TestClock implements Clock {
  constructor(public t: number) {}
  now(): number { return this.t; }
  set(iso: string | number): number { this.t = typeof iso === 'number' ? iso : Date.parse(iso); return this.t; }
  advance(ms: number): number { this.t += ms; return this.t; }
}

export interface Booted {
  kernel: Kernel;
  scheduler: SchedulerService;
  clock: TestClock;
  cwd: string;
  lines: string[];
  /** Schedules `t` with `args` through the scheduler service, as task.schedule() does. */
  schedule(t: TaskLike, trigger: ScheduleTrigger, ...args: unknown[]): Promise<ScheduleHandle>;
  /** The fire times (ISO) that became jobs for one schedule, in order. */
  fired(scheduleId: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A kernel with the built-in plugins; SQLite backends use `<cwd>/.nuvom/nuvom.db`. */
export async function boot(opts: { backend: Backend; clock: TestClock; cwd?: string }): Promise<Booted> {
  const cwd = opts.cwd ?? tempProject();
  const config = await loadConfig({
    cwd, env: {},
    overrides: { queueBackend: opts.backend, resultBackend: opts.backend, schedulerBackend: opts.backend, sqlitePath: path.join(cwd, '.nuvom/nuvom.db') },
  });
  const { logger, lines } = memoryLogger();
  const kernel = await bootKernel({ config, builtins: [serializers, registry, jobs, memory, sqlite, scheduler], clock: opts.clock, logger });
  const svc = kernel.resolve('scheduler');
  return {
    kernel, scheduler: svc, clock: opts.clock, cwd, lines,
    schedule: (t, trigger, ...args) => svc.schedule({ name: t.name, options: t.options }, trigger, args),
    async fired(scheduleId) {
      const records = await kernel.resolve('jobs').listJobs({ limit: 10_000, order: 'asc' });
      return records.filter((r) => r.id.startsWith(`${scheduleId}:`)).map((r) => r.id.slice(scheduleId.length + 1)).sort();
    },
    close: async () => { await kernel.stop(); },
  };
}

/** Ticks at every `stepMs` from `from` to `to` (inclusive); returns the jobs made. */
export async function tickThrough(b: Booted, from: string | number, to: string | number, stepMs: number): Promise<number> {
  let made = 0;
  const end = typeof to === 'number' ? to : Date.parse(to);
  for (let t = typeof from === 'number' ? from : Date.parse(from); t <= end; t += stepMs) {
    b.clock.set(t);
    made += await b.scheduler.tick(t);
  }
  return made;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Runs `node --import tsx <script> ...args` from the repository; resolves with its exit code and output. */
export function runNode(script: string, args: string[], opts: { cwd?: string; env?: Record<string, string>; onStderr?: (all: string, child: ReturnType<typeof spawn>) => void; stdin?: string } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(REPO_ROOT, script), ...args], {
    cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, NUVOM_LOG_LEVEL: 'info', ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; opts.onStderr?.(stderr, child); });
  if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}
