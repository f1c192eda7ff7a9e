/**
 * Lists the source files discovery scans under a root: JS/TS by extension, minus default ignores,
 * `.nuvomignore` (gitignore semantics) and `--exclude` globs, limited to `--include` globs when given.
 * Must never: follow symlinked directories (cycles), or read file contents.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type ignoreFn from 'ignore';
import type picomatchFn from 'picomatch';

// Both CommonJS, required on first use: only a `.nuvomignore` needs `ignore`, only globs `picomatch`,
// and every process that boots the discovery plugin loads this module (the manifest's stale check).
const requireHere = createRequire(import.meta.url);
const ignore = (): ReturnType<typeof ignoreFn> => (requireHere('ignore') as typeof ignoreFn)();
const picomatch = (globs: string[], opts: picomatchFn.PicomatchOptions) => (requireHere('picomatch') as typeof picomatchFn)(globs, opts);

export const SOURCE_EXTENSIONS: readonly string[] = ['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs'];
const EXTENSIONS: ReadonlySet<string> = new Set(SOURCE_EXTENSIONS);
/** Directory names skipped at any depth unless `.nuvomignore` re-includes them (`!build/`). */
export const DEFAULT_IGNORES: readonly string[] = ['node_modules', 'dist', 'build', '.git', '.nuvom', 'coverage'];
export const IGNORE_FILE = '.nuvomignore';

export interface WalkOptions {
  /** Globs relative to the root; when given, only matching files are scanned. */
  include?: readonly string[];
  /** Globs relative to the root; a match on a file or on any of its directories excludes it. */
  exclude?: readonly string[];
}

export interface FileFilter {
  /** Whether to descend into a directory (root-relative POSIX path, no trailing slash). */
  dir(rel: string): boolean;
  /** Whether a file (root-relative POSIX path) is scanned. */
  file(rel: string): boolean;
}

/** True for the extensions discovery scans; declaration files (.d.ts, .d.mts, .d.cts) are not. */
export function isSourceFile(rel: string): boolean {
  const dot = rel.lastIndexOf('.');
  if (dot <= rel.lastIndexOf('/') || !EXTENSIONS.has(rel.slice(dot))) return false;
  return !(rel.endsWith('.d.ts') || rel.endsWith('.d.mts') || rel.endsWith('.d.cts'));
}

/** The rules of one root, reusable by a watcher that sees paths one at a time. */
export function createFileFilter(root: string, opts: WalkOptions = {}): FileFilter {
  const ignoreFile = join(root, IGNORE_FILE);
  const rules = existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : null;
  const globs = (list: readonly string[] | undefined) => (list ?? []).map((g) => g.trim()).filter(Boolean);
  const include = globs(opts.include);
  const exclude = globs(opts.exclude);
  const included = include.length ? picomatch(include, { dot: true }) : () => true;
  const excluded = exclude.length ? picomatch(exclude, { dot: true }) : () => false;
  let dirIgnored: (rel: string) => boolean;
  let fileIgnored: (rel: string) => boolean;
  if (rules === null) {
    // Only the defaults, which name directories: a set lookup, and no file can match them.
    const names = new Set(DEFAULT_IGNORES);
    dirIgnored = (rel) => names.has(rel.slice(rel.lastIndexOf('/') + 1));
    fileIgnored = () => false;
  } else {
    const ig = ignore().add(DEFAULT_IGNORES.map((d) => `${d}/`)).add(rules);
    dirIgnored = (rel) => ig.ignores(`${rel}/`);
    fileIgnored = (rel) => ig.ignores(rel);
  }
  return {
    dir: (rel) => !dirIgnored(rel) && !excluded(rel) && !excluded(`${rel}/`),
    file: (rel) => isSourceFile(rel) && !fileIgnored(rel) && !excluded(rel) && included(rel),
  };
}

/** Root-relative POSIX paths of the files to scan, sorted. */
export function walkSources(root: string, opts: WalkOptions = {}): string[] {
  const filter = createFileFilter(root, opts);
  const out: string[] = [];
  const visit = (abs: string, rel: string) => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      const childAbs = `${abs}/${entry.name}`;
      if (entry.isDirectory()) {
        if (filter.dir(childRel)) visit(childAbs, childRel);
      } else if (entry.isFile()) {
        if (filter.file(childRel)) out.push(childRel);
      } else if (entry.isSymbolicLink() && filter.file(childRel)) {
        try {
          if (statSync(childAbs).isFile()) out.push(childRel);
        } catch { /* a dangling link is not a source file */ }
      }
    }
  };
  visit(root, '');
  return out.sort();
}
