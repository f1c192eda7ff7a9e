/**
 * A "host" of the PostgreSQL multi-process tests: fixtures/host.ts as a child process with its own
 * connections, its stderr kept, "ready" awaited, and its last stdout line (JSON) as the result;
 * useHosts() gives each test its own schema, run log and clean-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, tempProject } from '../helpers/tmp.ts';
import { client as pgClient, dropSchema, PG_URL, schemaName } from './helpers.ts';

const HOST = path.join(REPO_ROOT, 'test/postgres/fixtures/host.ts');

export interface Host {
  child: ChildProcess;
  ready: Promise<void>;
  /** The last stdout line as JSON, once the process exited 0. */
  result: Promise<unknown>;
  stderr: () => string;
}

export function startHost(env: NodeJS.ProcessEnv, role: string, ...args: string[]): Host {
  const child = spawn(process.execPath, ['--import', 'tsx', HOST, role, ...args], { cwd: REPO_ROOT, env });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c; if (stdout.startsWith('ready\n')) markReady(); });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const result = new Promise<unknown>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`host ${role} exited with ${code ?? signal}: ${stderr.slice(-2000)}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
  result.catch(() => undefined);
  return { child, ready, result, stderr: () => stderr };
}

/** "<job id> start|end" lines of every process's log, as [id, what, pid]. */
export function runLog(dir: string): Array<[string, string, number]> {
  return readdirSync(dir).flatMap((f) => readFileSync(path.join(dir, f), 'utf8').trim().split('\n').filter(Boolean)
    .map((l) => { const [id, what] = l.split(' '); return [id, what, Number(f.split('.')[0])] as [string, string, number]; }));
}


/** What useHosts() gives a test: its schema and run-log folder, and host processes configured for them. */
export interface HostsContext {
  schema: string;
  logDir: string;
  /** Starts fixtures/host.ts in `role` on this test's schema; `env` adds to (or overrides) its environment. */
  host(role: string, args?: string[], env?: NodeJS.ProcessEnv): Host;
  /** Rows of `sql` run on the test database, `S.` standing for this test's schema. */
  rows(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** `n` of the first row of `sql`, as a number. */
  count(sql: string, params?: unknown[]): Promise<number>;
  /** SIGTERM, then the host's result. */
  stop(h: Host): Promise<unknown>;
}

/**
 * Call inside a describe(): each test gets its own schema and run-log folder; afterwards every host
 * still running is SIGKILLed, `cleanup` runs, and the folder and schema are dropped.
 */
export function useHosts(cleanup?: () => Promise<void>): HostsContext {
  const hosts: Host[] = [];
  const ctx: HostsContext = {
    schema: '',
    logDir: '',
    host(role, args = [], env = {}) {
      const h = startHost({
        ...process.env, NUVOM_QUEUE_BACKEND: 'postgres', NUVOM_RESULT_BACKEND: 'postgres', NUVOM_SCHEDULER_BACKEND: 'postgres',
        NUVOM_POSTGRES_URL: PG_URL, NUVOM_POSTGRES_SCHEMA: ctx.schema, NUVOM_POSTGRES_POOL_SIZE: '4', NUVOM_VISIBILITY_TIMEOUT_SECS: '3',
        NUVOM_LOG_LEVEL: 'warn', PGT_RUNLOG: ctx.logDir, PGT_CWD: tempProject(), ...env,
      }, role, ...args);
      hosts.push(h);
      return h;
    },
    async rows(sql, params = []) {
      const c = await pgClient();
      try {
        return (await c.query(sql.replaceAll('S.', `"${ctx.schema}".`), params)).rows;
      } finally {
        await c.end();
      }
    },
    async count(sql, params = []) {
      return Number((await ctx.rows(sql, params))[0].n);
    },
    async stop(h) {
      h.child.kill('SIGTERM');
      return h.result;
    },
  };
  beforeEach(() => {
    ctx.schema = schemaName();
    ctx.logDir = mkdtempSync(path.join(tmpdir(), 'nuvom-pg-hosts-'));
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) {
      if (h.child.exitCode === null && h.child.signalCode === null) {
        h.child.kill('SIGKILL');
        await new Promise((r) => h.child.once('exit', r));
      }
    }
    await cleanup?.();
    rmSync(ctx.logDir, { recursive: true, force: true });
    await dropSchema(ctx.schema).catch(() => undefined);
  });
  return ctx;
}
