/**
 * Shared pieces of the monitoring tests: a throwaway project whose tasks module imports 'nuvom'
 * (node_modules/nuvom links to this repository), a client on it with memory backends, and a parser
 * for the Prometheus exposition text.
 * Must never: sleep as synchronisation; `waitFor` polls with a deadline.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient, type Client } from '../../sdk/index.ts';
import type { NuvomPlugin } from '../../sdk/plugin.ts';
import { memoryLogger, tempProject } from '../helpers/tmp.ts';

export { cleanupTempProjects, REPO_ROOT, waitFor } from '../helpers/tmp.ts';

/**
 * Tasks named `<prefix>.<name>` (task names are process-wide, so each test file uses its own prefix):
 * ok doubles, boom throws, flaky fails its first attempt, spin never yields (timeout 0.5 s, policy
 * fail), hold waits until the file it is given exists.
 */
export function tasksModule(prefix: string): string {
  return `import { existsSync } from 'node:fs';
import { task, currentJob } from 'nuvom';
export const ok = task({ name: '${prefix}.ok' }, async (x) => x * 2);
export const boom = task({ name: '${prefix}.boom' }, async () => { throw new TypeError('boom'); });
export const flaky = task({ name: '${prefix}.flaky', retries: 2, retryDelaySecs: 0 }, async () => {
  if (currentJob().attempt < 2) throw new Error('first attempt fails');
  return 'ok';
});
export const spin = task({ name: '${prefix}.spin', timeoutSecs: 0.5, timeoutPolicy: 'fail' }, () => {
  while (true) { /* a runaway CPU loop: only ending the thread stops it */ }
});
export const hold = task({ name: '${prefix}.hold', timeoutSecs: 20 }, async (file) => {
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 5));
  return 'released';
});
`;
}

/** A project with tasks.mjs and the given .nuvom_plugins.toml; its tasks are imported into this process. */
export async function monitoringProject(prefix: string, pluginsToml: string): Promise<string> {
  const dir = tempProject({
    'package.json': '{ "type": "module" }',
    'tasks.mjs': tasksModule(prefix),
    '.nuvom_plugins.toml': pluginsToml,
  }, { linkNuvom: true });
  // The worker threads load each task from the module URL recorded when task() ran here.
  await import(pathToFileURL(path.join(dir, 'tasks.mjs')).href);
  return dir;
}

export async function monitoringClient(dir: string, plugins: NuvomPlugin[] = []): Promise<{ client: Client; lines: string[] }> {
  const { logger, lines } = memoryLogger();
  const client = await createClient({ cwd: dir, env: {}, logger, plugins, config: { queueBackend: 'memory', resultBackend: 'memory' } });
  return { client, lines };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (comments and blank lines skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
  return parseMetrics(await res.text());
}
