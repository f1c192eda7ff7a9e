/**
 * Registry plugin: task name -> task. Tasks defined in this process (task()) come first; tasks listed
 * in the discovery manifest fill in the rest, so a worker knows every task without importing the
 * codebase. Must never: import user modules (workers load them lazily, in their threads).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  definePlugin, NuvomError, resolvePath, taskTable, messageOf, manifestRootProblem, taskNameProblem, signatureShapeProblem,
  type NuvomConfig, type RegistryService, type TaskRef, type TaskOptionsSnapshot, type Logger,
} from '../../sdk/plugin.ts';
import { registrySettings } from './settings.ts';

interface ManifestTask { name: string; file: string; export?: string; line?: number; options?: TaskOptionsSnapshot; signature?: unknown }

const STATIC_KEYS: Array<keyof TaskOptionsSnapshot> = ['retries', 'retryDelaySecs', 'backoff', 'timeoutSecs', 'timeoutPolicy', 'storeResult', 'priority', 'tags', 'description'];

export function snapshotOptions(options: Record<string, unknown>): TaskOptionsSnapshot {
  const out: Record<string, unknown> = {};
  for (const k of STATIC_KEYS) if (options[k] !== undefined) out[k] = options[k];
  return out as TaskOptionsSnapshot;
}

export class Registry implements RegistryService {
  private manifest = new Map<string, TaskRef>();
  private loaded = false;

  constructor(private readonly config: NuvomConfig, private readonly logger: Logger) {}

  get(name: string): TaskRef | undefined {
    const t = taskTable().tasks.get(name);
    if (t) {
      const fromManifest = this.fromManifest().get(name);
      return {
        name, options: snapshotOptions(t.options as Record<string, unknown>),
        moduleUrl: t.moduleUrl ?? fromManifest?.moduleUrl ?? null, exportName: fromManifest?.exportName ?? null, source: 'process',
        ...(fromManifest?.signature !== undefined ? { signature: fromManifest.signature } : {}),
      };
    }
    return this.fromManifest().get(name);
  }

  list(): TaskRef[] {
    const names = new Set([...taskTable().tasks.keys(), ...this.fromManifest().keys()]);
    return [...names].sort().map((n) => this.get(n)!);
  }

  refresh(): void {
    this.loaded = false;
  }

  private fromManifest(): Map<string, TaskRef> {
    if (this.loaded) return this.manifest;
    this.loaded = true;
    this.manifest = new Map();
    const file = resolvePath(this.config, this.config.manifestPath);
    if (!existsSync(file)) return this.manifest;
    let doc: { root?: string; tasks?: ManifestTask[] };
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new NuvomError('NUVOM_E_MANIFEST', `${file} is not valid JSON (${messageOf(err)}); run \`nuvom discover tasks\` to rebuild it`);
    }
    if (!doc || !Array.isArray(doc.tasks)) {
      throw new NuvomError('NUVOM_E_MANIFEST', `${file} has no "tasks" list; run \`nuvom discover tasks\` to rebuild it`);
    }
    if (doc.root !== undefined && (typeof doc.root !== 'string' || doc.root === '')) {
      throw new NuvomError('NUVOM_E_MANIFEST', `${file}: "root" must be a folder path, got ${JSON.stringify(doc.root)}; run \`nuvom discover tasks\` to rebuild it`);
    }
    const root = path.resolve(this.config.cwd, doc.root ?? '.');
    // Before any entry is used: a root elsewhere would point every moduleUrl outside the project.
    const outside = manifestRootProblem(root, this.config.cwd);
    if (outside) throw new NuvomError('NUVOM_E_MANIFEST', `the task manifest ${file} is refused: ${outside}`, { details: { path: file, reason: 'root', root, projectRoot: this.config.cwd } });
    for (const t of doc.tasks) {
      const okExport = t?.export === undefined || t.export === null || typeof t.export === 'string';
      const okOptions = t?.options === undefined || (typeof t.options === 'object' && t.options !== null && !Array.isArray(t.options));
      if (!t || typeof t.name !== 'string' || typeof t.file !== 'string' || !okExport || !okOptions) {
        this.logger.warn(`${file}: skipping a malformed task entry; run \`nuvom discover tasks\``);
        continue;
      }
      const badName = taskNameProblem(t.name);
      if (badName) throw new NuvomError('NUVOM_E_MANIFEST', `the task manifest ${file} is refused: ${badName}; fix the name in the source and run \`nuvom discover tasks\``, { details: { path: file, name: t.name } });
      let signature: TaskRef['signature'];
      if (t.signature === null) signature = null;
      else if (t.signature !== undefined) {
        const bad = signatureShapeProblem(t.signature);
        // A hand-edited signature only turns the argument check off; the task itself stays usable.
        if (bad) this.logger.warn(`${file}: the signature of task "${t.name}" ${bad}, so its arguments are not checked; run \`nuvom discover tasks\``);
        else signature = t.signature as TaskRef['signature'];
      }
      this.manifest.set(t.name, {
        name: t.name, options: snapshotOptions((t.options ?? {}) as Record<string, unknown>), moduleUrl: pathToFileURL(path.resolve(root, t.file)).href,
        exportName: t.export ?? null, source: 'manifest', ...(signature !== undefined ? { signature } : {}),
      });
    }
    return this.manifest;
  }
}

export default definePlugin({
  name: 'nuvom-registry',
  apiVersion: 1,
  description: 'task name -> task, from this process and the discovery manifest',
  provides: ['registry'],
  settings: registrySettings,
  register(ctx) {
    ctx.provide('registry', 'default', (s) => new Registry(s.config, s.logger));
  },
});
