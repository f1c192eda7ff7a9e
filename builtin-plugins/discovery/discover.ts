/**
 * Discovery end to end: walk the root, scan what changed since the last manifest (size and mtime,
 * then content hash), refuse duplicate names, diff against the old manifest and write the new one.
 * Must never: write a manifest that holds two tasks with one name, or rewrite an unchanged one.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { NuvomError } from '../../sdk/plugin.ts';
import {
  assertUniqueNames, diffTasks, loadManifest, MANIFEST_VERSION, readManifestOrNull, sha1, writeManifest,
} from './manifest.ts';
import { mightDefineTasks, scanFile } from './scan.ts';
import type { DiscoverOptions, DiscoverResult, Manifest, ManifestFile, Problem, TaskEntry } from './types.ts';
import { walkSources } from './walk.ts';

export { loadManifest };
export { isManifestStale, staleReason } from './stale.ts';

const PROGRESS_EVERY = 100;
const YIELD_EVERY = 500;

export async function discoverTasks(opts: DiscoverOptions): Promise<DiscoverResult> {
  const started = performance.now();
  const root = resolve(opts.root);
  const manifestPath = resolve(opts.manifestPath);
  const include = [...(opts.include ?? [])];
  const exclude = [...(opts.exclude ?? [])];
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
    throw new NuvomError('NUVOM_E_USAGE', `the discovery root ${root} is not a directory; pass an existing directory (--root DIR)`, { details: { root } });
  }
  const paths = walkSources(root, { include, exclude });
  const old = readManifestOrNull(manifestPath);
  // File entries are reusable only when they were relative to the same root.
  const reusable = old && old.root === root ? old : null;
  const oldTasks = groupByFile(reusable?.tasks ?? []);

  const tasks: TaskEntry[] = [];
  const problems: Problem[] = [];
  const files: Record<string, ManifestFile> = {};
  const stats = { files: paths.length, parsed: 0, cached: 0, skipped: 0, ms: 0 };
  // Whether the new manifest differs from the old; tracked as we go, so a no-change rescan never
  // serializes two manifests to compare them.
  let changed = !reusable || !sameList(reusable.include, include) || !sameList(reusable.exclude, exclude);
  const keep = (rel: string, entry: ManifestFile, fileTasks: TaskEntry[], fileProblems: Problem[]) => {
    if (fileProblems.length) files[rel] = { ...entry, problems: fileProblems };
    else if (entry.problems === undefined) files[rel] = entry;
    else files[rel] = { hash: entry.hash, mtimeMs: entry.mtimeMs, size: entry.size, tasks: entry.tasks };
    tasks.push(...fileTasks);
    problems.push(...fileProblems);
  };

  for (const [i, rel] of paths.entries()) {
    if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
    if (opts.onProgress && i % PROGRESS_EVERY === 0) opts.onProgress({ done: i, total: paths.length, elapsedMs: performance.now() - started });
    const abs = `${root}/${rel}`;
    let size: number;
    let mtimeMs: number;
    try {
      ({ size, mtimeMs } = statSync(abs));
    } catch {
      stats.files--; // removed between the walk and now
      changed = true;
      continue;
    }
    let prev = reusable?.files[rel];
    // Written before discovery recorded parameters: scan the file again, even though it is unchanged.
    if (prev && oldTasks.get(rel)?.some((t) => t.signature === undefined)) prev = undefined;
    if (prev && prev.size === size && prev.mtimeMs === mtimeMs) {
      stats.cached++;
      keep(rel, prev, oldTasks.get(rel) ?? [], prev.problems ?? []);
      continue;
    }
    let content: Buffer;
    try {
      content = readFileSync(abs);
    } catch (err) {
      problems.push({ file: rel, line: 1, column: 1, message: `could not read the file: ${(err as Error).message}` });
      changed = true;
      continue;
    }
    const hash = sha1(content);
    changed = true;
    if (prev && prev.hash === hash) {
      stats.cached++;
      keep(rel, { ...prev, size, mtimeMs }, oldTasks.get(rel) ?? [], prev.problems ?? []);
      continue;
    }
    stats.parsed++;
    const source = content.toString('utf8');
    if (!mightDefineTasks(source)) stats.skipped++;
    const found = scanFile(rel, source);
    keep(rel, { hash, mtimeMs, size, tasks: found.tasks.map((t) => t.name) }, found.tasks, found.problems);
  }
  opts.onProgress?.({ done: paths.length, total: paths.length, elapsedMs: performance.now() - started });

  assertUniqueNames(tasks, { problems });
  tasks.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const manifest: Manifest = {
    version: MANIFEST_VERSION, generatedAt: new Date().toISOString(), root, include, exclude, tasks, files,
  };
  if (reusable && Object.keys(reusable.files).length !== Object.keys(files).length) changed = true;
  const unchanged = !changed && old !== null;
  const written = opts.write !== false && !unchanged;
  if (written) writeManifest(manifestPath, manifest);
  stats.ms = Math.round((performance.now() - started) * 10) / 10;
  return { manifest: unchanged ? old : manifest, diff: diffTasks(old?.tasks ?? [], tasks), problems, stats, written };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function groupByFile(tasks: readonly TaskEntry[]): Map<string, TaskEntry[]> {
  const out = new Map<string, TaskEntry[]>();
  for (const t of tasks) {
    const list = out.get(t.file);
    if (list) list.push(t);
    else out.set(t.file, [t]);
  }
  return out;
}
