/**
 * Whether a task manifest still matches the sources: a walk and a stat per file, no parsing. Kept
 * apart from discover.ts so a worker's start-up check never loads the parser.
 * Must never: import the parser (scan.ts, oxc-parser); read a source file's contents.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Manifest } from './types.ts';
import { walkSources } from './walk.ts';

/**
 * Why the manifest no longer matches the sources under `root` (default: the manifest's own root), or
 * null when it still does. Cheap: a walk and a stat per file, no reads. A file whose mtime changed
 * but whose content did not still counts as a change; a rescan settles it quickly.
 */
export function staleReason(manifest: Manifest, root: string = manifest.root): string | null {
  const abs = resolve(root);
  if (abs !== manifest.root) return `the manifest was built for ${manifest.root}, not ${abs}`;
  let paths: string[];
  try {
    paths = walkSources(abs, { include: manifest.include, exclude: manifest.exclude });
  } catch (err) {
    return `the root ${abs} cannot be read (${(err as Error).message})`;
  }
  const listed = Object.keys(manifest.files);
  const known = new Set(listed);
  for (const rel of paths) if (!known.has(rel)) return `${rel} is new`;
  if (paths.length !== listed.length) {
    const present = new Set(paths);
    const gone = listed.find((rel) => !present.has(rel));
    if (gone) return `${gone} is no longer scanned (deleted or ignored)`;
  }
  for (const rel of listed) {
    const entry = manifest.files[rel];
    try {
      const st = statSync(join(abs, rel));
      if (st.size !== entry.size || st.mtimeMs !== entry.mtimeMs) return `${rel} changed`;
    } catch {
      return `${rel} is missing`;
    }
  }
  return null;
}

/** True when any listed file changed size or mtime or is missing, or a new candidate file appeared. */
export function isManifestStale(manifest: Manifest, root?: string): boolean {
  return staleReason(manifest, root) !== null;
}
