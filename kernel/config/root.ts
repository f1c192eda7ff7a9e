/**
 * The project root, found as npm finds a package: from the starting directory up to the nearest
 * folder holding a `package.json` or a `.nuvom/` folder. An explicit directory (`--cwd`,
 * `createClient({ cwd })`) is taken as the root as it is.
 * Must never: create anything, or walk past the nearest match (a monorepo's package wins over the
 * workspace root, as with npm).
 */
import { statSync } from 'node:fs';
import path from 'node:path';

export interface ProjectRoot {
  /** The directory whose configuration and `.nuvom/` are used. */
  readonly dir: string;
  /** Why this directory: printed by `nuvom config`. */
  readonly reason: string;
}

const isFile = (p: string) => statSync(p, { throwIfNoEntry: false })?.isFile() === true;
const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

/** The root for `explicit` (taken as is) or found upward from `start`. */
export function findProjectRoot(start: string, explicit?: string): ProjectRoot {
  if (explicit !== undefined) return { dir: path.resolve(explicit), reason: 'given (--cwd or createClient({ cwd }))' };
  const from = path.resolve(start);
  for (let dir = from; ; dir = path.dirname(dir)) {
    const marks = [isFile(path.join(dir, 'package.json')) && 'package.json', isDir(path.join(dir, '.nuvom')) && '.nuvom/'].filter(Boolean);
    if (marks.length) {
      const where = dir === from ? 'in the current directory' : `above ${from}`;
      return { dir, reason: `nearest ${marks.join(' and ')} ${where}` };
    }
    if (path.dirname(dir) === dir) break;
  }
  return { dir: from, reason: 'the current directory (no package.json or .nuvom/ in it or above it)' };
}
