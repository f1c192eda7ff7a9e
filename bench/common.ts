/**
 * Shared pieces of `npm run bench`: the row type, the scale of a run, child processes (one fresh
 * process per measurement, talking over IPC), temp directories, bench clients and statistics.
 * Must never: leave a temp directory or a child process behind; print data anywhere but stdout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '../sdk/index.ts';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');

/** One line of bench/results.json. `ratio` = value / ceiling, both measured in the same run. */
export interface Row {
  name: string;
  backend: string;
  unit: string;
  value: number;
  ceiling: number | null;
  ratio: number | null;
}

/** A row plus what the table shows beside it (not written to results.json). */
export interface TableRow extends Row {
  /** Jobs or operations the figure is based on. */
  n?: number;
  /** The issue's target, e.g. ">= 70%" or "<= 2 ms", and whether this run met it. */
  target?: { text: string; met: boolean };
  note?: string;
}

export type Backend = 'memory' | 'file' | 'sqlite' | 'postgres';

/** The PostgreSQL the postgres rows use (NUVOM_BENCH_POSTGRES_URL); each client gets its own schema, dropped at close. */
export const BENCH_PG_URL = process.env.NUVOM_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the bench's PostgreSQL answers (the postgres rows are skipped, with a note, when not). */
export async function pgReachable(): Promise<boolean> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 3000 });
  try { await c.connect(); return true; } catch { return false; } finally { await c.end().catch(() => undefined); }
}

/** How big a run is; derived from --n and --quick in run.ts. */
export interface Scale {
  quick: boolean;
  /** Jobs per throughput measurement (enqueue, no-op processing); rows of the insert N/tx ceiling. */
  n: number;
  /** Rows per SQLite ceiling measure (at least 10,000; 5,000 in a quick run), so that they are not noise. */
  ceilingN: number;
  /** Ceiling repetitions (median taken). */
  ceilingRuns: number;
  /** Upper bound on the time one delay() loop may take, in ms (slow backends stop early). */
  delayBudgetMs: number;
  /** Cap on jobs for the file backend, whose every job costs an fsync. */
  fileMapCap: number;
  cpuJobs: number;
  cpuIterations: number;
  latencyJobs: number;
  resourceJobs: number;
  idleSecs: number;
}

// ---------------------------------------------------------------- child processes

interface ReplyMessage { type: 'reply'; id: number; ok: boolean; data?: unknown; error?: string }
interface ResultMessage { type: 'result'; data: unknown }
interface ErrorMessage { type: 'error'; error: string }
type FromChild = ReplyMessage | ResultMessage | ErrorMessage | { type: 'ready'; data?: unknown };

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });

/**
 * A child process running `node --import tsx bench/child.ts <scenario json>`. One-shot scenarios
 * send one result and exit; interactive ones (latency, resources) answer `call`s until `finish`.
 */
export class Child {
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly result: Promise<unknown>;
  private readonly ready: Promise<unknown>;
  private exitError: Error | null = null;

  constructor(scenario: { kind: string } & Record<string, unknown>, opts: { exposeGc?: boolean; timeoutMs?: number } = {}) {
    const execArgv = ['--import', 'tsx', ...(opts.exposeGc ? ['--expose-gc'] : [])];
    this.proc = fork(path.join(BENCH_DIR, 'child.ts'), [JSON.stringify(scenario)], {
      cwd: REPO_ROOT, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    live.add(this.proc);
    let setReady!: (v: unknown) => void;
    this.ready = new Promise((r) => { setReady = r; });
    const timer = setTimeout(() => {
      this.exitError = new Error(`child "${scenario.kind}" ran past ${opts.timeoutMs} ms`);
      this.proc.kill('SIGKILL');
    }, opts.timeoutMs ?? 300_000);
    this.result = new Promise((resolve, reject) => {
      let result: { data: unknown } | null = null;
      this.proc.on('message', (m: FromChild) => {
        if (m.type === 'ready') setReady(m.data);
        else if (m.type === 'result') result = { data: m.data };
        else if (m.type === 'error') this.exitError = new Error(`child "${scenario.kind}" failed: ${m.error}`);
        else if (m.type === 'reply') {
          const w = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          if (m.ok) w?.resolve(m.data); else w?.reject(new Error(m.error));
        }
      });
      this.proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        live.delete(this.proc);
        const err = this.exitError ?? (result ? null : new Error(`child "${scenario.kind}" exited (${signal ?? `code ${code}`}) without a result`));
        for (const w of this.waiting.values()) w.reject(err ?? new Error('child exited'));
        this.waiting.clear();
        if (err) { setReady(undefined); reject(err); } else resolve(result!.data);
      });
    });
    this.result.catch(() => undefined);
  }

  whenReady<T = unknown>(): Promise<T> {
    return Promise.race([this.ready, this.result.then(() => { throw new Error('child finished before it was ready'); })]) as Promise<T>;
  }

  call<T = unknown>(cmd: string, arg?: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ type: 'call', id, cmd, arg });
    });
  }

  /** Asks an interactive child to finish, and waits for its final result. */
  async finish<T = unknown>(): Promise<T> {
    if (this.proc.connected) this.proc.send({ type: 'finish' });
    return this.result as Promise<T>;
  }

  done<T = unknown>(): Promise<T> {
    return this.result as Promise<T>;
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

/** Runs a one-shot scenario in a fresh process and returns its result. */
export async function inChild<T>(scenario: { kind: string } & Record<string, unknown>, opts: { exposeGc?: boolean; timeoutMs?: number } = {}): Promise<T> {
  return new Child(scenario, opts).done<T>();
}

// ---------------------------------------------------------------- child side

type Handler = (arg: unknown) => unknown;

/** The child's end of the channel; without IPC (run by hand) results go to stdout. */
export const channel = {
  /** Resolves once the message is handed to the OS (so exiting right after does not drop it). */
  send(msg: unknown): Promise<void> {
    return new Promise((resolve) => {
      if (process.send) process.send(msg, undefined, {}, () => resolve());
      else process.stdout.write(`${JSON.stringify(msg)}\n`, () => resolve());
    });
  },
  ready(data?: unknown): Promise<void> {
    return channel.send({ type: 'ready', data });
  },
  /** Answers the parent's calls until it says `finish`. */
  serve(handlers: Record<string, Handler>): Promise<void> {
    return new Promise((resolve) => {
      const onMessage = async (m: { type: string; id: number; cmd: string; arg: unknown }) => {
        if (m.type === 'finish') { process.off('message', onMessage); resolve(); return; }
        if (m.type !== 'call') return;
        try {
          const h = handlers[m.cmd];
          if (!h) throw new Error(`unknown command "${m.cmd}"`);
          await channel.send({ type: 'reply', id: m.id, ok: true, data: await h(m.arg) });
        } catch (err) {
          await channel.send({ type: 'reply', id: m.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
        }
      };
      process.on('message', onMessage);
    });
  },
};

// ---------------------------------------------------------------- storage and clients

export function tempDir(label: string): string {
  return mkdtempSync(path.join(tmpdir(), `nuvom-bench-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A client on `dir` with the same backend for queue and results; config from nothing else. */
export async function benchClient(dir: string, backend: Backend, extra: Record<string, unknown> = {}): Promise<Client> {
  if (backend === 'postgres') {
    const schema = `nuvom_bench_${path.basename(dir).toLowerCase().replace(/[^a-z0-9]/g, '').slice(-24)}`;
    const client = await plainClient(dir, backend, { postgresUrl: BENCH_PG_URL, postgresSchema: schema, ...extra });
    const close = client.close.bind(client);
    return Object.assign(client, {
      close: async () => {
        await close();
        const { default: pg } = await import('pg');
        const c = new pg.Client({ connectionString: BENCH_PG_URL });
        await c.connect();
        try { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`); } finally { await c.end(); }
      },
    });
  }
  return plainClient(dir, backend, extra);
}

function plainClient(dir: string, backend: Backend, extra: Record<string, unknown>): Promise<Client> {
  return createClient({
    cwd: dir,
    env: {},
    config: {
      queueBackend: backend,
      resultBackend: backend,
      schedulerBackend: 'memory',
      sqlitePath: path.join(dir, 'nuvom.db'),
      fileQueueDir: path.join(dir, 'queue'),
      fileResultDir: path.join(dir, 'results'),
      logLevel: 'warn',
      ...extra,
    },
  });
}

// ---------------------------------------------------------------- numbers

/** CLOCK_MONOTONIC in ms: shared by every process and thread on the host. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in 0..100. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function perSec(count: number, ms: number): number {
  return count / (ms / 1000);
}

export function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Peak RSS of this process so far, MB (threads included). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** A seeded PRNG (mulberry32), so open-loop gaps are the same in every run. */
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes (then throws, naming `what`). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function row(name: string, backend: string, unit: string, value: number, ceiling: number | null, extra: Partial<TableRow> = {}): TableRow {
  return { name, backend, unit, value, ceiling, ratio: ceiling ? value / ceiling : null, ...extra };
}
