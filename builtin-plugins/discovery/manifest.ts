/**
 * The task manifest (.nuvom/manifest.json): reading it with a shape check, writing it atomically,
 * diffing two versions, and refusing two tasks with one name.
 * Must never: leave a half-written manifest behind, or accept one whose shape it did not check.
 */
import type {} from './errors.ts';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { manifestRootProblem, NuvomError, signatureShapeProblem, taskNameProblem } from '../../sdk/plugin.ts';
import type { Manifest, ManifestDiff, TaskChange, TaskEntry } from './types.ts';

export const MANIFEST_VERSION = 1 as const;
const REBUILD = 'run `nuvom discover tasks` to rebuild it';

export function sha1(content: string | Uint8Array): string {
  return createHash('sha1').update(content).digest('hex');
}

/**
 * Reads and checks a manifest; a missing or malformed one is a NUVOM_E_MANIFEST error saying what to run.
 * With `projectRoot`, a root outside that folder is refused too (details.reason 'root'): discovery
 * itself reads without it, so `nuvom discover tasks` can rebuild over such a manifest.
 */
export function loadManifest(path: string, projectRoot?: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NuvomError('NUVOM_E_MANIFEST', missing
      ? `no task manifest at ${path}; run \`nuvom discover tasks\` to create it`
      : `the task manifest ${path} could not be read (${(err as Error).message})`, { cause: err, details: { path } });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new NuvomError('NUVOM_E_MANIFEST', `the task manifest ${path} is not valid JSON (${(err as Error).message}); ${REBUILD}`, { cause: err, details: { path } });
  }
  const problem = shapeProblem(data);
  if (problem) throw new NuvomError('NUVOM_E_MANIFEST', `the task manifest ${path} is malformed: ${problem}; ${REBUILD}`, { details: { path } });
  const manifest = data as Manifest;
  const outside = projectRoot === undefined ? null : manifestRootProblem(manifest.root, projectRoot);
  if (outside) {
    throw new NuvomError('NUVOM_E_MANIFEST', `the task manifest ${path} is refused: ${outside}`, { details: { path, reason: 'root', root: manifest.root, projectRoot } });
  }
  return manifest;
}

/** The manifest at `path`, or null when it is missing or unusable (discovery then rebuilds it). */
export function readManifestOrNull(path: string): Manifest | null {
  try {
    return loadManifest(path);
  } catch {
    return null;
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): boolean => {
  if (!Array.isArray(v)) return false;
  for (const s of v) if (typeof s !== 'string') return false;
  return true;
};

/** What is wrong with a parsed manifest, or null when its shape is right. */
export function shapeProblem(data: unknown): string | null {
  if (!isObj(data)) return 'expected a JSON object';
  if (data.version !== MANIFEST_VERSION) return `version is ${JSON.stringify(data.version)}, expected ${MANIFEST_VERSION}`;
  if (typeof data.generatedAt !== 'string') return 'generatedAt is not a string';
  if (typeof data.root !== 'string' || data.root === '') return 'root is not a path';
  if (!isStrings(data.include) || !isStrings(data.exclude)) return 'include/exclude are not lists of globs';
  if (!Array.isArray(data.tasks)) return 'tasks is not a list';
  for (const [i, t] of data.tasks.entries()) {
    if (!isObj(t)) return `tasks[${i}] is not an object`;
    for (const key of ['name', 'file', 'export'] as const) {
      if (typeof t[key] !== 'string' || t[key] === '') return `tasks[${i}].${key} is not a non-empty string`;
    }
    const badName = taskNameProblem(t.name as string);
    if (badName) return `tasks[${i}]: ${badName}`;
    if (!Number.isInteger(t.line) || (t.line as number) < 1) return `tasks[${i}].line is not a line number`;
    if (!isObj(t.options)) return `tasks[${i}].options is not an object`;
    if (t.method !== undefined && typeof t.method !== 'string') return `tasks[${i}].method is not a string`;
    const badSignature = t.signature === undefined || t.signature === null ? null : signatureShapeProblem(t.signature);
    if (badSignature) return `tasks[${i}].signature ${badSignature}`;
  }
  if (!isObj(data.files)) return 'files is not an object';
  const files = data.files;
  // Plain loops: this runs on every rescan over thousands of entries.
  for (const file in files) {
    const f = files[file];
    if (!isObj(f) || typeof f.hash !== 'string' || typeof f.mtimeMs !== 'number' || typeof f.size !== 'number' || !isStrings(f.tasks)) {
      return `files["${file}"] lacks hash, mtimeMs, size or tasks`;
    }
    if (f.problems !== undefined && !Array.isArray(f.problems)) return `files["${file}"].problems is not a list`;
  }
  for (const [i, t] of (data.tasks as Obj[]).entries()) {
    if (!isObj(files[t.file as string])) return `tasks[${i}].file "${String(t.file)}" has no entry in files`;
  }
  return null;
}

/** Writes through a temporary file and a rename, so readers see the old manifest or the new one. */
export function writeManifest(path: string, manifest: Manifest): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new NuvomError('NUVOM_E_MANIFEST', `could not write the task manifest ${path}: ${(err as Error).message}`, { cause: err, details: { path } });
  }
}

/** Throws NUVOM_E_DISCOVERY naming every place of every name defined more than once. */
export function assertUniqueNames(tasks: readonly TaskEntry[], details: Record<string, unknown> = {}): void {
  const byName = new Map<string, TaskEntry[]>();
  for (const t of tasks) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  const dupes = [...byName.entries()].filter(([, list]) => list.length > 1);
  if (dupes.length === 0) return;
  const lines = dupes.map(([name, list]) => `task "${name}" is defined ${list.length} times: ${list.map((t) => `${t.file}:${t.line}`).join(' and ')}`);
  throw new NuvomError('NUVOM_E_DISCOVERY',
    `${lines.join('; ')}; task names must be unique: rename one (task({ name: '...' }, fn)); the manifest was not written`,
    { details: { ...details, duplicates: dupes.map(([name, list]) => ({ name, places: list.map((t) => ({ file: t.file, line: t.line })) })) } });
}

/** What changed between the old manifest's tasks and the new ones, keyed by task name. */
export function diffTasks(before: readonly TaskEntry[], after: readonly TaskEntry[]): ManifestDiff {
  const old = new Map(before.map((t) => [t.name, t]));
  const now = new Map(after.map((t) => [t.name, t]));
  const diff: ManifestDiff = { added: [], removed: [], modified: [] };
  for (const t of after) {
    const prev = old.get(t.name);
    if (prev === t) continue; // taken unchanged from the old manifest
    if (!prev) {
      diff.added.push(t);
      continue;
    }
    const changed: TaskChange[] = [];
    if (prev.file !== t.file) changed.push('file');
    if (prev.export !== t.export) changed.push('export');
    if (prev.line !== t.line) changed.push('line');
    if (canonical(prev.options) !== canonical(t.options)) changed.push('options');
    if (prev.method !== t.method) changed.push('method');
    // An old manifest's entry has no signature yet: gaining one is not a change worth printing.
    if (prev.signature !== undefined && canonical(prev.signature) !== canonical(t.signature)) changed.push('signature');
    if (changed.length) diff.modified.push({ name: t.name, before: prev, after: t, changed });
  }
  for (const t of before) if (!now.has(t.name)) diff.removed.push(t);
  return diff;
}

/** JSON with object keys sorted, so reordering options in source is not a change. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (isObj(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}
