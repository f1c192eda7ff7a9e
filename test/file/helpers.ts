/** Shared bits of the file backend tests: temp directories, a JSON serializer, a logger that keeps lines. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger, Serializer } from '../../sdk/plugin.ts';

export const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'file-worker.ts');

/** A tiny JSON serializer, enough for JSON-safe test values. */
export const json: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

export interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line (with its fields) for assertions. */
export function keepingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, msg, fields: { ...bindings, ...fields } });
    };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  return { logger: make({}), lines };
}

/** Temp directories made by a suite; `cleanup()` in an afterEach removes them. */
export function tempDirs(prefix: string): { make: () => string; cleanup: () => void } {
  const made: string[] = [];
  return {
    make: () => {
      const dir = mkdtempSync(path.join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    cleanup: () => {
      for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Polls `check` (setImmediate, then short timers) until it is truthy or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let spins = 0;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    spins += 1;
    await new Promise<void>((resolve) => (spins < 50 ? setImmediate(resolve) : setTimeout(resolve, 5)));
  }
}

export interface Child {
  /** Resolves with the first stdout line that `match` accepts (rejects if the child exits first). */
  line(match: (line: string) => boolean): Promise<string>;
  send(line: string): void;
  /** Resolves with the exit code; stderr is kept for failure messages. */
  exited: Promise<number | null>;
  stderr(): string;
  kill(): void;
}

/** Starts the fixture script in a child process with the TypeScript loader. */
export function startFixture(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const seen: string[] = [];
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  let err = '';
  let done = false;
  child.stderr.on('data', (d) => { err += String(d); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    done = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`fixture exited (${code}) before the expected line; stderr:\n${err}`));
    resolve(code);
  }));
  createInterface({ input: child.stdout }).on('line', (l) => {
    seen.push(l);
    for (const w of [...waiters]) {
      if (w.match(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  return {
    line: (match) => {
      const found = seen.find(match);
      if (found !== undefined) return Promise.resolve(found);
      if (done) return Promise.reject(new Error(`fixture exited before the expected line; stderr:\n${err}`));
      return new Promise((resolve, reject) => waiters.push({ match, resolve, reject }));
    },
    send: (l) => { child.stdin.write(`${l}\n`); },
    exited,
    stderr: () => err,
    kill: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}
