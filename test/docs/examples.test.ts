/**
 * The docs' examples are executable (issue 15): every fenced block marked `runnable` in README.md and
 * docs/*.md runs, in order, in one scratch project per page whose `nuvom` is this checkout's build,
 * and what it prints must match what the page shows. The markers (docs/contributing.md):
 *   ```ts runnable file=tasks.ts    the block is written to tasks.ts (later blocks use it)
 *   ```ts runnable run=main.ts      written to main.ts and run (node --import tsx main.ts); the next
 *                                   ```text block is its expected stdout (logs on stderr are not compared)
 *   ```console runnable             a transcript: `$ command` lines run with sh (stderr merged into
 *                                   stdout), each followed by its expected output and `[exit N]`
 *                                   (0 when absent)
 * Masks in expected output: <id> a job id, <time> a time stamp, <n> a number, <path> a path, <any>
 * anything on the line; a line `...` stands for any number of lines.
 * Must never: sleep as synchronisation (commands run one after another, each to its exit).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, cleanupTempProjects, tempProject } from '../helpers/tmp.ts';

interface Block { lang: string; attrs: Record<string, string>; body: string; line: number; expected?: string }

export function runnableBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let open: { lang: string; info: string; line: number; body: string[] } | null = null;
  const all: Array<{ lang: string; info: string; line: number; body: string }> = [];
  lines.forEach((l, i) => {
    if (!open) {
      const m = /^```(\w*)\s*(.*)$/.exec(l);
      if (m) open = { lang: m[1]!, info: m[2]!.trim(), line: i + 1, body: [] };
    } else if (/^```\s*$/.test(l)) {
      all.push({ lang: open.lang, info: open.info, line: open.line, body: open.body.join('\n') });
      open = null;
    } else {
      open.body.push(l);
    }
  });
  all.forEach((b, i) => {
    const words = b.info.split(/\s+/);
    if (!words.includes('runnable')) return;
    const attrs = Object.fromEntries(words.filter((w) => w.includes('=')).map((w) => w.split('=') as [string, string]));
    const block: Block = { lang: b.lang, attrs, body: b.body, line: b.line };
    if (attrs.run) {
      const next = all[i + 1];
      if (!next || next.lang !== 'text') throw new Error(`line ${b.line}: a \`run=\` block needs a following \`\`\`text block with its output`);
      block.expected = next.body;
    }
    blocks.push(block);
  });
  return blocks;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const MASKS: Record<string, string> = {
  '<id>': '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
  '<time>': '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z|\\d+(\\.\\d+)?\\s?(ms|s|m|h) ago|\\d\\d:\\d\\d:\\d\\d',
  '<n>': '-?\\d+(\\.\\d+)?',
  '<path>': '\\S+',
  '<any>': '.*',
};

function lineRegex(expected: string): RegExp {
  const parts = expected.split(/(<id>|<time>|<n>|<path>|<any>)/);
  return new RegExp(`^${parts.map((p) => (MASKS[p] ? `(?:${MASKS[p]})` : esc(p))).join('')}$`);
}

/** Whether `actual` lines match `expected` lines (masks, `...` for any run of lines). */
export function matches(expected: string[], actual: string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const k = `${i},${j}`;
    if (memo.has(k)) return memo.get(k)!;
    let r: boolean;
    if (i === expected.length) r = j === actual.length;
    else if (expected[i]!.trim() === '...') r = go(i + 1, j) || (j < actual.length && go(i, j + 1));
    else r = j < actual.length && lineRegex(expected[i]!.trimEnd()).test(actual[j]!.trimEnd()) && go(i + 1, j + 1);
    memo.set(k, r);
    return r;
  };
  return go(0, 0);
}

const lines = (s: string) => s.replace(/\n+$/, '').split('\n').filter((l, i, a) => !(a.length === 1 && l === ''));

function env(): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NUVOM_') && !['NO_COLOR', 'FORCE_COLOR', 'COLUMNS'].includes(k)) e[k] = v;
  return e;
}

function sh(dir: string, command: string, merge = true): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', merge ? `${command} 2>&1` : `${command} 2>/dev/null`], {
      cwd: dir, env: { ...env(), PATH: `${path.join(dir, 'node_modules/.bin')}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

/** A project whose `nuvom` (import and binary) is this checkout, as an installed package would be. */
function scratch(): string {
  const dir = tempProject({ 'package.json': '{ "name": "docs-example", "type": "module" }' }, { linkNuvom: true });
  mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(path.join(REPO_ROOT, 'bin/nuvom.js'), path.join(dir, 'node_modules/.bin/nuvom'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules/tsx'), path.join(dir, 'node_modules/tsx'), 'dir');
  return dir;
}

/** Runs a console transcript: each `$ command`, then its output lines and `[exit N]`. */
async function transcript(dir: string, body: string): Promise<void> {
  const steps: Array<{ cmd: string; out: string[]; exit: number }> = [];
  for (const l of body.split('\n')) {
    if (l.startsWith('$ ')) steps.push({ cmd: l.slice(2), out: [], exit: 0 });
    else if (!steps.length) continue;
    else if (/^\[exit \d+\]$/.test(l.trim())) steps[steps.length - 1]!.exit = Number(/\d+/.exec(l)![0]);
    else steps[steps.length - 1]!.out.push(l);
  }
  for (const s of steps) {
    while (s.out.length && s.out[s.out.length - 1]!.trim() === '') s.out.pop();
    const r = await sh(dir, s.cmd);
    const got = lines(r.out);
    if (!matches(s.out, got) || r.code !== s.exit) {
      expect.fail(`$ ${s.cmd}\nexpected (exit ${s.exit}):\n${s.out.join('\n')}\n\ngot (exit ${r.code}):\n${got.join('\n')}`);
    }
  }
}

const PAGES = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('docs: runnable examples print what the docs show', function () {
  this.timeout(180_000);
  after(cleanupTempProjects);
  for (const page of PAGES) {
    const blocks = runnableBlocks(readFileSync(path.join(REPO_ROOT, page), 'utf8'));
    if (!blocks.length) continue;
    describe(page, () => {
      let dir = '';
      before(() => { dir = scratch(); });
      for (const b of blocks) {
        const what = b.attrs.file ? `writes ${b.attrs.file}` : b.attrs.run ? `runs ${b.attrs.run}` : 'runs its commands';
        it(`${page}:${b.line} ${what}`, async () => {
          if (b.attrs.file || b.attrs.run) {
            const file = path.join(dir, b.attrs.file ?? b.attrs.run!);
            mkdirSync(path.dirname(file), { recursive: true });
            writeFileSync(file, `${b.body}\n`);
          }
          if (b.attrs.run) {
            const r = await sh(dir, `node --import tsx ${b.attrs.run}`, false);
            const got = lines(r.out);
            if (!matches(lines(b.expected!), got) || r.code !== 0) expect.fail(`expected:\n${b.expected}\n\ngot (exit ${r.code}):\n${got.join('\n')}`);
          } else if (b.lang === 'console' || b.lang === 'sh') {
            await transcript(dir, b.body);
          }
        });
      }
    });
  }
});
