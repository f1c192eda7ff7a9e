/**
 * Whether a task manifest's `root` belongs to the project: the project's folder or a folder inside
 * it. A hand-edited root pointing elsewhere would make workers import modules from outside the
 * project, so every reader of a manifest (registry, discovery, doctor, runworker) asks this first.
 * Must never: touch the file system (symlinks are not followed; the check is on the paths as written).
 */
import path from 'node:path';

/** Why `manifestRoot` is not the project's, or null when it is the project root or inside it. */
export function manifestRootProblem(manifestRoot: string, projectRoot: string): string | null {
  const root = path.resolve(projectRoot, manifestRoot);
  const project = path.resolve(projectRoot);
  const rel = path.relative(project, root);
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))) return null;
  return `its root ${root} is not the project's folder ${project} (nor inside it); a hand-edited or copied manifest would make workers import modules from outside the project; run \`nuvom discover tasks\` in ${project} to rebuild it`;
}
