/** Temp project directories for tests, removed after the run. */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const made: string[] = [];

/** A fresh directory; with `linkNuvom`, `import 'nuvom'` resolves to this repository. */
export function tempProject(files: Record<string, string> = {}, opts: { linkNuvom?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-test-'));
  made.push(dir);
  if (opts.linkNuvom) {
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'nuvom'), 'dir');
  }
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

export function cleanupTempProjects(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => T | Promise<T>, opts: { timeoutMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let delay = 2;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** A logger that keeps lines for assertions. */
export function memoryLogger() {
  const lines: string[] = [];
  const make = (): import('../../sdk/plugin.ts').Logger => ({
    debug: (m) => { lines.push(`debug ${m}`); },
    info: (m) => { lines.push(`info ${m}`); },
    warn: (m) => { lines.push(`warn ${m}`); },
    error: (m) => { lines.push(`error ${m}`); },
    child: () => make(),
  });
  return { logger: make(), lines };
}
