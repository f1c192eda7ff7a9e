/**
 * Discovery benchmark: generates a synthetic repository (5,000 files, 10% defining tasks, 5% more
 * importing nuvom without defining tasks, 200 files in node_modules) and times a cold scan, a
 * no-change rescan, a rescan after one edit and the staleness check. Medians of 3 rounds; the
 * no-change figure is the median of 5 rescans a round. Run: `npx tsx bench/discovery.ts [--quick]`.
 * Must never: be a test assertion; numbers depend on the machine.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { discoverTasks, isManifestStale, loadManifest } from '../builtin-plugins/discovery/index.ts';

export interface BenchRow {
  name: string;
  backend: string;
  unit: string;
  value: number;
}

const PLAIN = (i: number) => `import { readFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';

export interface Record${i} { id: number; label: string; tags: string[]; stats?: Stats }

/** Helper module ${i}: no tasks here. */
export async function load${i}(path: string): Promise<Record${i}[]> {
  const text = await readFile(path, 'utf8');
  return text.split('\\n').filter(Boolean).map((line, id) => ({ id, label: line.trim(), tags: line.split(',') }));
}

export class Repo${i} {
  private readonly cache = new Map<number, Record${i}>();
  constructor(private readonly rows: Record${i}[]) {}
  get(id: number): Record${i} | undefined {
    if (!this.cache.has(id)) {
      const row = this.rows.find((r) => r.id === id);
      if (row) this.cache.set(id, row);
    }
    return this.cache.get(id);
  }
  count(): number { return this.rows.length; }
}

export const DEFAULT_${i} = { retries: ${i % 5}, label: 'module-${i}', enabled: ${i % 2 === 0} } as const;
`;

const CLIENT = (i: number) => `import { createClient } from 'nuvom';
${PLAIN(i)}
export async function enqueueFrom${i}() {
  const client = await createClient();
  return client.listJobs({ status: 'FAILED', limit: ${i % 50} });
}
`;

const TASKS = (i: number) => `import { task } from 'nuvom';
${PLAIN(i)}
export const add${i} = task({ name: 'm${i}.add', retries: 2, timeoutSecs: 5_000, tags: ['math', 'bench'] }, async (a: number, b: number) => a + b);

export async function report${i}(id: number) { return new Repo${i}([]).get(id); }
export const report${i}Task = task({ retries: 3, priority: -1 }, report${i});
`;

export function generateRepo(dir: string, files: number): void {
  const perDir = 100;
  for (let i = 0; i < files; i++) {
    const sub = join(dir, 'src', `pkg${Math.floor(i / perDir) % 10}`, `mod${Math.floor(i / perDir)}`);
    if (i % perDir === 0) mkdirSync(sub, { recursive: true });
    const body = i % 10 === 0 ? TASKS(i) : i % 20 === 5 ? CLIENT(i) : PLAIN(i);
    writeFileSync(join(sub, `file${i}.ts`), body);
  }
  mkdirSync(join(dir, 'node_modules', 'dep'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(dir, 'node_modules', 'dep', `x${i}.js`), PLAIN(i));
}

async function time(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run({ quick = false }: { quick?: boolean } = {}): Promise<BenchRow[]> {
  const files = quick ? 1_000 : 5_000;
  const rounds = quick ? 1 : 3;
  const dir = mkdtempSync(join(tmpdir(), 'nuvom-bench-discovery-'));
  try {
    generateRepo(dir, files);
    const manifestPath = join(dir, '.nuvom', 'manifest.json');
    const discover = () => discoverTasks({ root: dir, manifestPath });
    const cold: number[] = [];
    const warm: number[] = [];
    const edited: number[] = [];
    const stale: number[] = [];
    let tasks = 0;
    for (let r = 0; r < rounds; r++) {
      rmSync(join(dir, '.nuvom'), { recursive: true, force: true });
      cold.push(await time(async () => { tasks = (await discover()).manifest.tasks.length; }));
      for (let k = 0; k < 5; k++) warm.push(await time(discover));
      const touched = join(dir, 'src', 'pkg0', 'mod0', 'file0.ts');
      writeFileSync(touched, `${TASKS(0)}\n// edit ${r}\n`);
      utimesSync(touched, new Date(), new Date(Date.now() + 1000 * (r + 1)));
      edited.push(await time(discover));
      const manifest = loadManifest(manifestPath);
      stale.push(await time(() => isManifestStale(manifest)));
    }
    const c = median(cold);
    const w = median(warm);
    return [
      { name: `discovery.cold-scan (${files} files, ${tasks} tasks)`, backend: 'n/a', unit: 'ms', value: round(c) },
      { name: 'discovery.cold-scan', backend: 'n/a', unit: 'files/s', value: Math.round(files / (c / 1000)) },
      { name: 'discovery.no-change-rescan', backend: 'n/a', unit: 'ms', value: round(w) },
      { name: 'discovery.no-change-rescan', backend: 'n/a', unit: 'files/s', value: Math.round(files / (w / 1000)) },
      { name: 'discovery.rescan-speedup', backend: 'n/a', unit: 'x', value: round(c / w) },
      { name: 'discovery.one-edit-rescan', backend: 'n/a', unit: 'ms', value: round(median(edited)) },
      { name: 'discovery.stale-check', backend: 'n/a', unit: 'ms', value: round(median(stale)) },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run({ quick: process.argv.includes('--quick') });
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) process.stdout.write(`${r.name.padEnd(width)}  ${String(r.value).padStart(9)} ${r.unit}\n`);
}
