/**
 * Doctor check of the task manifest: missing, unreadable, or stale (a listed source file changed
 * size or mtime, disappeared, or a new source file appeared). Uses the `discovery` service when one
 * is loaded (its own reader and staleness rule); otherwise compares the listed files by hand.
 * Must never: rewrite the manifest (`nuvom discover tasks` does that).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { manifestRootProblem, messageOf, resolvePath, type PluginContext } from '../../sdk/plugin.ts';
import { finding, type Finding } from './report.ts';

const REBUILD = 'run `nuvom discover tasks` (runworker also rebuilds a missing or stale manifest when it starts)';

interface ListedFile { size: number; mtimeMs: number }

/** Why the listed files no longer match the disk, or null; a manifest without `files` cannot tell. */
function changedFile(manifest: Record<string, unknown>): string | null {
  const files = manifest.files;
  if (!files || typeof files !== 'object') return null;
  const root = typeof manifest.root === 'string' ? manifest.root : '.';
  for (const [rel, entry] of Object.entries(files as Record<string, ListedFile>)) {
    try {
      const st = statSync(path.resolve(root, rel));
      if (st.size !== entry?.size) return `${rel} changed (${entry?.size} -> ${st.size} bytes)`;
      if (st.mtimeMs !== entry?.mtimeMs) return `${rel} was modified after the scan`;
    } catch {
      return `${rel} is missing`;
    }
  }
  return null;
}

export function checkManifest(ctx: PluginContext): Finding {
  const file = resolvePath(ctx.config, ctx.config.manifestPath);
  if (!existsSync(file)) {
    return finding('manifest', 'warn', `no task manifest at ${file}: workers know only the tasks their own process defines`, REBUILD, { path: file, exists: false });
  }
  const hasDiscovery = ctx.implementations('discovery').length > 0;
  let manifest: Record<string, unknown>;
  try {
    if (hasDiscovery) manifest = ctx.resolve('discovery').loadManifest(file, ctx.config.cwd) as unknown as Record<string, unknown>;
    else {
      const doc: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { tasks?: unknown }).tasks)) throw new Error('it has no "tasks" list');
      manifest = doc as Record<string, unknown>;
      const outside = typeof manifest.root === 'string' ? manifestRootProblem(manifest.root, ctx.config.cwd) : null;
      if (outside) throw new Error(outside);
    }
  } catch (err) {
    // A root outside the project is a FAIL, not "stale": workers would import modules from there.
    const outside = /is not the project's folder/.test(messageOf(err));
    return finding('manifest', 'FAIL', `${file} cannot be used: ${messageOf(err)}`,
      outside ? `run \`nuvom discover tasks\` in ${ctx.config.cwd} to rebuild it (runworker refuses it)` : REBUILD, { path: file, projectRoot: ctx.config.cwd });
  }
  const tasks = (manifest.tasks as unknown[]).length;
  let stale: string | null;
  try {
    const verdict = hasDiscovery ? ctx.resolve('discovery').isManifestStale(manifest as never) : changedFile(manifest) !== null;
    stale = verdict ? changedFile(manifest) ?? 'a new source file appeared, or one is no longer scanned' : null;
  } catch (err) {
    stale = messageOf(err);
  }
  if (stale) {
    return finding('manifest', 'warn', `${file} is stale: ${stale}; workers may run old task definitions or miss new tasks`, REBUILD, { path: file, tasks, stale });
  }
  return finding('manifest', 'ok', `${file}: ${tasks} task(s), up to date with the sources${typeof manifest.generatedAt === 'string' ? ` (scanned ${manifest.generatedAt})` : ''}`, undefined, { path: file, tasks });
}
