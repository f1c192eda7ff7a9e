/**
 * `npm run bench [-- --quick] [-- --n 20000] [-- --rss-jobs 300000] [-- --only enqueue,latency]`: measures nuvom against the
 * raw limits of this machine in one run, prints a table (stdout) and writes bench/results.json, an
 * array of { name, backend, unit, value, ceiling, ratio } (ratio = value / ceiling, both from this
 * run; null where no ceiling applies). Progress goes to stderr. What each row means: bench/README.md.
 * Every measurement runs in a fresh child process (bench/child.ts).
 * Must never: be used as a test assertion; the numbers depend on the machine and its load.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { BENCH_DIR, REPO_ROOT, type Row, type Scale, type TableRow } from './common.ts';
import { runCeilings, type Ceilings } from './ceiling.ts';
import { runEnqueue } from './enqueue.ts';
import { runProcess } from './process.ts';
import { runLatency } from './latency.ts';
import { runResources } from './resources.ts';
import { runDashboard } from './dashboard.ts';

const SECTIONS = ['ceiling', 'enqueue', 'process', 'latency', 'resources', 'dashboard'] as const;
type Section = (typeof SECTIONS)[number];

const USAGE = `usage: npm run bench -- [--quick] [--n <jobs>] [--rss-jobs <jobs>] [--only ${SECTIONS.join(',')}] [--out <file>]
  --quick     under a minute: N=2,000, 20,000 jobs for the RSS check, 3 s idle CPU
  --n         jobs per throughput measurement (default 10,000); the SQLite ceilings use at least 10,000 rows
  --rss-jobs  jobs for the RSS-growth check (default 100,000; quick 20,000)
  --only      run only these sections (the ceilings always run when a section needs them)
  --out       where to write the JSON rows (default bench/results.json)`;

function parseArgs(argv: string[]): { scale: Scale; only: Set<Section>; out: string } {
  let quick = false;
  let n: number | undefined;
  let rssJobs: number | undefined;
  let only: Section[] = [...SECTIONS];
  let out = path.join(BENCH_DIR, 'results.json');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a === '--n' || a.startsWith('--n=')) {
      n = Number(value());
      if (!Number.isInteger(n) || n < 100) fail(`--n must be a whole number >= 100, got ${n}`);
    } else if (a === '--rss-jobs' || a.startsWith('--rss-jobs=')) {
      rssJobs = Number(value());
      if (!Number.isInteger(rssJobs) || rssJobs < 1000) fail(`--rss-jobs must be a whole number >= 1000, got ${rssJobs}`);
    } else if (a === '--only' || a.startsWith('--only=')) {
      only = value().split(',').map((s) => s.trim()) as Section[];
      const bad = only.filter((s) => !SECTIONS.includes(s));
      if (bad.length) fail(`--only: unknown section(s) ${bad.join(', ')}; known: ${SECTIONS.join(', ')}`);
    } else if (a === '--out' || a.startsWith('--out=')) out = path.resolve(value());
    else if (a === '--help' || a === '-h') { process.stdout.write(`${USAGE}\n`); process.exit(0); }
    else fail(`unknown argument "${a}"`);
  }
  const scale: Scale = quick
    ? { quick, n: n ?? 2_000, ceilingN: Math.max(n ?? 2_000, 5_000), ceilingRuns: 1, delayBudgetMs: 1_000, fileMapCap: 300, cpuJobs: 40, cpuIterations: 2_000_000, latencyJobs: 60, resourceJobs: 20_000, idleSecs: 3 }
    : { quick, n: n ?? 10_000, ceilingN: Math.max(n ?? 10_000, 10_000), ceilingRuns: 3, delayBudgetMs: 3_000, fileMapCap: 1_000, cpuJobs: 60, cpuIterations: 2_000_000, latencyJobs: 200, resourceJobs: 100_000, idleSecs: 10 };
  if (rssJobs !== undefined) scale.resourceJobs = rssJobs;
  return { scale, only: new Set(only), out };
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head} + uncommitted changes in ${dirty.split('\n').length} file(s)` : head;
  } catch {
    return 'unknown';
  }
}

function fmt(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function table(rows: TableRow[]): string {
  const head = ['name', 'backend', 'n', 'value', 'unit', 'ceiling', 'ratio', 'target', 'note'];
  const lines = rows.map((r) => [
    r.name, r.backend, r.n === undefined ? '' : r.n.toLocaleString('en-US'), fmt(r.value), r.unit, fmt(r.ceiling),
    r.ratio === null ? '–' : `${(100 * r.ratio).toFixed(1)}%`, r.target ? `${r.target.text}: ${r.target.met ? 'met' : 'NOT MET'}` : '', r.note ?? '',
  ]);
  const right = new Set([2, 3, 5, 6]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const cell = (s: string, i: number) => (right.has(i) ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const out = [`| ${head.map(cell).join(' | ')} |`, `|${widths.map((w, i) => (right.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`];
  for (const l of lines) out.push(`| ${l.map(cell).join(' | ')} |`);
  return out.join('\n');
}

function round(x: number | null): number | null {
  if (x === null || !Number.isFinite(x)) return null;
  return Number(x.toPrecision(4));
}

async function main(): Promise<void> {
  const { scale, only, out } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const loadBefore = loadavg()[0];
  const log = (m: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${m}\n`);
  const rows: TableRow[] = [];
  const failures: string[] = [];
  const timings: string[] = [];

  async function section(name: Section | 'ceilings', fn: () => Promise<TableRow[]>): Promise<void> {
    const t0 = performance.now();
    log(`${name}...`);
    try {
      rows.push(...(await fn()));
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      log(`${name} FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
    timings.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  let ceilings: Ceilings | null = null;
  const needCeilings = ['ceiling', 'enqueue', 'process'].some((s) => only.has(s as Section));
  if (needCeilings) {
    await section('ceilings', async () => {
      const c = await runCeilings(scale);
      ceilings = c.ceilings;
      return c.rows;
    });
  }
  const c = ceilings as Ceilings | null;
  if (only.has('enqueue') && c) await section('enqueue', () => runEnqueue(scale, c));
  if (only.has('process') && c) await section('process', () => runProcess(scale, c));
  if (only.has('latency')) await section('latency', () => runLatency(scale));
  if (only.has('resources')) await section('resources', () => runResources(scale));
  if (only.has('dashboard')) await section('dashboard', () => runDashboard(scale.quick ? 100_000 : 1_000_000, log));

  const secs = (performance.now() - started) / 1000;
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  process.stdout.write([
    `nuvom bench${scale.quick ? ' --quick' : ''}: N=${scale.n.toLocaleString('en-US')}, ${new Date().toISOString()}`,
    `Node ${process.version}, ${availableParallelism()} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, git ${gitState()}`,
    `load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end${Math.max(loadBefore, loadavg()[0]) > 1.5 ? ' (other processes competed for the cores: numbers are low and noisy)' : ''}`,
    '',
    table(rows),
    '',
    `took ${secs.toFixed(1)} s (${timings.join(', ')}); rows written to ${path.relative(process.cwd(), out) || out}`,
    '',
  ].join('\n'));
  const json: Row[] = rows.map((r) => ({ name: r.name, backend: r.backend, unit: r.unit, value: round(r.value)!, ceiling: round(r.ceiling), ratio: round(r.ratio) }));
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
  if (failures.length) {
    process.stderr.write(`\n${failures.length} section(s) failed:\n${failures.join('\n\n')}\n`);
    process.exitCode = 1;
  }
}

await main();
