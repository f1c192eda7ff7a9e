/**
 * The shapes discovery produces and the manifest stores. Types only.
 * Must never: hold behaviour; the manifest's shape is checked in manifest.ts.
 */
import type { TaskSignature } from '../../sdk/plugin.ts';

export type { TaskParam, TaskSignature } from '../../sdk/plugin.ts';

/** A JSON value read statically from source: what a task's literal options may hold. */
export type StaticValue = string | number | boolean | null | StaticValue[] | { [key: string]: StaticValue };

/** One task found in a source file. */
export interface TaskEntry {
  /** The task's name: `options.name`, else the function's (or decorated method's) own name. */
  name: string;
  /** Root-relative POSIX path of the module that defines it. */
  file: string;
  /** The module export a worker imports to reach the task ("default" for a default export). */
  export: string;
  /** 1-based line of the task() call or the @task decorator. */
  line: number;
  /** The literal options (name excluded); non-literal values are left out. */
  options: Record<string, StaticValue>;
  /** For a `@task` method decorator: the decorated method; `export` is then its class. */
  method?: string;
  /**
   * The task function's parameters as written. `null`: the scan could not see the function (imported,
   * computed, a `let`), so nobody may check a call against it. Absent: a manifest written before
   * discovery recorded parameters (run `nuvom discover tasks` again).
   */
  signature?: TaskSignature | null;
}

/** Something discovery could not accept, with where it is and how to fix it. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface ScanResult {
  tasks: TaskEntry[];
  problems: Problem[];
}

export interface ManifestFile {
  /** sha1 of the file's content (hex). */
  hash: string;
  mtimeMs: number;
  size: number;
  /** Names of the tasks the file defines. */
  tasks: string[];
  /** Problems found in the file, kept so an unchanged file reports them again without a parse. */
  problems?: Problem[];
}

export interface Manifest {
  version: 1;
  /** ISO-8601 time of the scan that wrote the manifest. */
  generatedAt: string;
  /** Absolute path of the scan root; task files are relative to it. */
  root: string;
  /** The include and exclude globs of that scan, so staleness checks walk the same files. */
  include: string[];
  exclude: string[];
  tasks: TaskEntry[];
  files: Record<string, ManifestFile>;
}

export type TaskChange = 'file' | 'export' | 'line' | 'options' | 'method' | 'signature';

export interface ManifestDiff {
  added: TaskEntry[];
  removed: TaskEntry[];
  modified: Array<{ name: string; before: TaskEntry; after: TaskEntry; changed: TaskChange[] }>;
}

export interface DiscoverProgress {
  done: number;
  total: number;
  elapsedMs: number;
}

export interface DiscoverOptions {
  /** Directory to scan; relative paths resolve against process.cwd(). */
  root: string;
  /** Where the manifest lives; relative paths resolve against process.cwd(). */
  manifestPath: string;
  include?: string[];
  exclude?: string[];
  onProgress?: (p: DiscoverProgress) => void;
  /** Scan and diff without writing the manifest (default true). */
  write?: boolean;
}

export interface DiscoverStats {
  /** Candidate source files walked. */
  files: number;
  /** Files read and scanned this run (not taken from the manifest). */
  parsed: number;
  /** Files taken from the manifest without parsing (same size and mtime, or same hash). */
  cached: number;
  /** Of `parsed`: files that never mention "nuvom", so oxc was not run on them. */
  skipped: number;
  ms: number;
}

export interface DiscoverResult {
  manifest: Manifest;
  diff: ManifestDiff;
  problems: Problem[];
  stats: DiscoverStats;
  /** False when nothing changed, so the manifest on disk was left alone. */
  written: boolean;
}

/** What the `discovery` service provides. */
export interface DiscoveryService {
  discover(opts: DiscoverOptions): Promise<DiscoverResult>;
  loadManifest(path: string): Manifest;
  isManifestStale(manifest: Manifest, root?: string): boolean;
}
