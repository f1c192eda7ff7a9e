/**
 * Keeping the worker's view of the tasks true: at start, a missing or stale manifest is rebuilt (when
 * a discovery plugin is loaded) or reported; in dev mode (`runworker --dev`), source changes trigger
 * re-discovery and a reload of the task modules in fresh threads, without dropping running jobs.
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { messageOf, resolvePath, type PluginContext, type RunningWorker } from '../../sdk/plugin.ts';

const SOURCE = /\.(c|m)?(t|j)sx?$/;
const SKIP = /(^|[/\\])(node_modules|dist|build|\.git|\.nuvom|coverage)([/\\]|$)/;

async function discover(ctx: PluginContext, why: string): Promise<void> {
  const discovery = ctx.resolve('discovery');
  const res = await discovery.discover({ root: ctx.config.cwd, manifestPath: resolvePath(ctx.config, ctx.config.manifestPath) });
  for (const p of res.problems) ctx.logger.warn(`${p.file}:${p.line}:${p.column}: ${p.message}`);
  const { added, removed, modified } = res.diff;
  ctx.logger.info(`${why}: ${res.manifest.tasks.length} task(s) (+${added.length} -${removed.length} ~${modified.length})`);
  ctx.resolve('registry').refresh();
}

/** Rebuilds a missing or stale manifest before a worker starts; without discovery, says what to do. */
export async function ensureManifest(ctx: PluginContext): Promise<void> {
  const file = resolvePath(ctx.config, ctx.config.manifestPath);
  const hasDiscovery = ctx.implementations('discovery').length > 0;
  if (!existsSync(file)) {
    if (hasDiscovery) await discover(ctx, `no manifest at ${file}; discovered tasks`);
    else ctx.logger.warn(`no task manifest at ${file}: this worker knows only tasks defined in its own process; run \`nuvom discover tasks\``);
    return;
  }
  if (!hasDiscovery) return;
  const discovery = ctx.resolve('discovery');
  let stale: boolean;
  try {
    stale = discovery.isManifestStale(discovery.loadManifest(file, ctx.config.cwd));
  } catch (err) {
    // A root outside the project is refused, not silently rebuilt: someone edited or copied it.
    if ((err as { details?: { reason?: unknown } }).details?.reason === 'root') throw err;
    ctx.logger.warn(`${messageOf(err)}; rebuilding it`);
    stale = true;
  }
  if (stale) await discover(ctx, 'the manifest was out of date; re-discovered');
}

/** Watches the sources; on a change, re-discovers and reloads the pool's task modules. */
export function watchSources(ctx: PluginContext, worker: RunningWorker): () => void {
  const root = ctx.config.cwd;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  const changed = (file: string | null) => {
    if (file && (!SOURCE.test(file) || SKIP.test(file))) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (running) { again = true; return; }
      running = (async () => {
        do {
          again = false;
          try {
            await discover(ctx, `change in ${file ? path.join(root, file) : root}; re-discovered`);
            await worker.reload();
            ctx.logger.info('task modules reloaded in fresh threads; running jobs finish in the old ones');
          } catch (err) {
            ctx.logger.error(`dev reload failed: ${messageOf(err)}; fix the source and save again`);
          }
        } while (again);
      })().finally(() => { running = null; });
    }, 150);
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(root, { recursive: true }, (_e, f) => changed(f ? String(f) : null));
  } catch (err) {
    ctx.logger.warn(`dev mode cannot watch ${root}: ${messageOf(err)}`);
    return () => undefined;
  }
  ctx.logger.info(`dev mode: watching ${root} for source changes`);
  return () => { clearTimeout(timer); watcher.close(); };
}
