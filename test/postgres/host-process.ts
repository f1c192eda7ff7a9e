/**
 * A "host" of the PostgreSQL multi-process tests: fixtures/host.ts as a child process with its own
 * connections, its stderr kept, "ready" awaited, and its last stdout line (JSON) as the result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/tmp.ts';

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

