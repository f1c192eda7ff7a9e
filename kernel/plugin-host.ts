/**
 * The plugin host: loads plugin modules, validates them, orders them by their dependencies, then
 * calls register() and start(settings) in order and stop() in reverse order, each under a time limit.
 * Every failure names the plugin. Built-ins go through exactly the same path as third-party plugins.
 * Must never: import a plugin by a built-in's file path (built-ins come in as plugin objects).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { editDistance } from './config/settings.ts';
import { errorCodeProblem, NuvomError, messageOf } from './errors.ts';
import { API_VERSION, type NuvomPlugin, type PluginContext } from './plugin.ts';

export interface LoadedPlugin {
  plugin: NuvomPlugin;
  /** "builtin", or the spec it was loaded from. */
  source: string;
  /** The capability it was listed under in .nuvom_plugins.toml. */
  capability?: string;
  state: 'loaded' | 'registered' | 'started' | 'stopped' | 'failed';
}

/** Validates a plugin object's shape; the error says what is wrong and names the plugin or spec. */
export function validatePlugin(candidate: unknown, where: string): NuvomPlugin {
  const fail = (what: string): never => {
    throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `${where}: ${what}. A plugin is { name, apiVersion: ${API_VERSION}, provides?, dependsOn?, needs?, settings?, defaults?, hooks?, errors?, register?, start?, stop? } (docs/plugins.md)`);
  };
  if (typeof candidate === 'function') {
    fail('is a function or class, not a plugin object; pass or export the object (e.g. `export default definePlugin({ ... })`)');
  }
  if (typeof candidate !== 'object' || candidate === null) fail(`is ${candidate === null ? 'null' : typeof candidate}, not a plugin object`);
  const p = candidate as Record<string, unknown>;
  if (typeof p.then === 'function') {
    fail('is a Promise, not a plugin object; await it first (`plugins: [await loadAcme()]`), or give a preset a lazy entry { name, load }');
  }
  if (isModuleNamespace(p)) {
    const plugins = Object.keys(p).filter((k) => looksLikePlugin(p[k]));
    const which = plugins.length ? ` (it exports: ${plugins.map((k) => (k === 'default' ? 'ns.default' : `ns.${k}`)).join(', ')})` : '';
    fail(`is a module namespace object (\`import * as ns\`), not a plugin object; pass its default export (ns.default) or the named export of the plugin${which}`);
  }
  for (const key of Object.keys(p)) {
    const meant = misspeltKey(key, p);
    if (meant) fail(`has an unknown key "${key}" (did you mean "${meant}"?)`);
  }
  if (typeof p.name !== 'string' || !/^[a-z0-9@][\w@./-]*$/i.test(p.name)) {
    fail(`${p.name === undefined ? 'has no "name"' : `has an invalid "name" (got ${describe(p.name)})`}: it must be a non-empty string of letters, digits, "_", "-", ".", "/", "@", starting with a letter, digit or "@"`);
  }
  const label = `${where} (plugin "${p.name as string}")`;
  if (p.apiVersion !== API_VERSION) {
    throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `${label}: apiVersion is ${JSON.stringify(p.apiVersion)}, this nuvom speaks apiVersion ${API_VERSION}; update the plugin`, { plugin: p.name as string });
  }
  for (const fn of ['register', 'start', 'stop'] as const) {
    if (p[fn] !== undefined && typeof p[fn] !== 'function') fail(`"${fn}" must be a function`);
  }
  for (const list of ['provides', 'dependsOn', 'needs'] as const) {
    if (p[list] !== undefined && (!Array.isArray(p[list]) || (p[list] as unknown[]).some((x) => typeof x !== 'string'))) {
      fail(`"${list}" must be an array of strings`);
    }
  }
  if (p.settings !== undefined) {
    if (typeof p.settings !== 'object' || p.settings === null || Array.isArray(p.settings)) fail('"settings" must be an object of setting declarations');
    for (const [key, spec] of Object.entries(p.settings as Record<string, unknown>)) {
      const sp = spec as Record<string, unknown> | null;
      if (!/^[a-z][\w-]*$/i.test(key)) fail(`setting name "${key}" must start with a letter and hold only letters, digits, "_" or "-"`);
      if (typeof sp !== 'object' || sp === null) fail(`setting "${key}" must be { env?, doc, default, parse }`);
      if (typeof sp!.parse !== 'function') fail(`setting "${key}" has no "parse" function (it returns the value or throws a message)`);
      if (typeof sp!.doc !== 'string' || sp!.doc === '') fail(`setting "${key}" has no one-line "doc"`);
      if (sp!.env !== undefined && (typeof sp!.env !== 'string' || !/^NUVOM_[A-Z0-9_]+$/.test(sp!.env))) fail(`setting "${key}": "env" must start with "NUVOM_" and hold only upper-case letters, digits and "_", such as "NUVOM_ACME_URL" (got ${describe(sp!.env)})`);
    }
  }
  if (p.hooks !== undefined) {
    if (typeof p.hooks !== 'object' || p.hooks === null || Array.isArray(p.hooks)) fail('"hooks" must be an object of hook name -> "observer" or "pipeline"');
    for (const [name, kind] of Object.entries(p.hooks as Record<string, unknown>)) {
      if (kind !== 'observer' && kind !== 'pipeline') fail(`hook "${name}" must be declared as "observer" or "pipeline", not ${JSON.stringify(kind)}`);
    }
  }
  if (p.errors !== undefined) {
    if (typeof p.errors !== 'object' || p.errors === null || Array.isArray(p.errors)) fail('"errors" must be an object of error code -> what it means');
    for (const [code, meaning] of Object.entries(p.errors as Record<string, unknown>)) {
      const problem = errorCodeProblem(code, meaning);
      if (problem) fail(problem);
    }
  }
  if (p.defaults !== undefined && (typeof p.defaults !== 'object' || p.defaults === null || Array.isArray(p.defaults))) {
    fail('"defaults" must be an object of setting name -> suggested default');
  }
  return candidate as NuvomPlugin;
}

const PLUGIN_KEYS = ['name', 'apiVersion', 'version', 'description', 'provides', 'dependsOn', 'needs', 'settings', 'defaults', 'hooks', 'errors', 'register', 'start', 'stop'];

/**
 * The known key an unknown one is a typo of ("regsiter", "strat", "Hooks"), unless the object has that
 * key too: other keys are left alone, as a plugin may carry fields of its own.
 */
function misspeltKey(key: string, p: Record<string, unknown>): string | undefined {
  if (PLUGIN_KEYS.includes(key)) return undefined;
  const k = key.toLowerCase();
  for (const known of PLUGIN_KEYS) {
    if (known in p) continue;
    const kn = known.toLowerCase();
    const swapped = k.length === kn.length && [...k].some((_, i) => i > 0 && k.slice(0, i - 1) + k[i] + k[i - 1] + k.slice(i + 1) === kn);
    if (swapped || editDistance(k, kn) <= (kn.length >= 8 ? 2 : 1)) return known;
  }
  return undefined;
}

/** A value for an error message, short. */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (v === null || typeof v !== 'object') return typeof v === 'function' ? 'a function' : String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

/** `import * as ns` (or its CommonJS interop form): the plugin is one of its exports, not the object itself. */
function isModuleNamespace(o: Record<string, unknown>): boolean {
  return Object.prototype.toString.call(o) === '[object Module]' || (o.__esModule === true && !('name' in o));
}

function looksLikePlugin(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && 'apiVersion' in v;
}

/**
 * The plugins given as objects (createClient's or bootKernel's `plugins`), validated as a listed
 * plugin is; `where` names the option ("createClient()").
 */
export function validatePlugins(list: unknown, where: string): NuvomPlugin[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `${where}: "plugins" must be an array of plugin objects, not ${list === null ? 'null' : typeof list}; wrap it: plugins: [myPlugin]`);
  }
  return list.map((p, i) => validatePlugin(p, `${where} plugins[${i}]`));
}

/** Splits "module:Export" (a Windows drive letter or a scoped name never counts as the separator). */
export function parseSpec(spec: string): { module: string; exportName: string | null } {
  const i = spec.lastIndexOf(':');
  if (i <= 1 || spec.slice(i + 1).includes('/') || spec.slice(i + 1) === '') return { module: spec, exportName: null };
  return { module: spec.slice(0, i), exportName: spec.slice(i + 1) };
}

export type Catalogue = Record<string, () => Promise<NuvomPlugin>>;

/** Imports a plugin from a spec. `.ts` files load through tsx without a build step. */
export async function importPlugin(spec: string, cwd: string, catalogue: Catalogue = {}): Promise<NuvomPlugin> {
  const { module, exportName } = parseSpec(spec);
  if (catalogue[module]) return validatePlugin(await catalogue[module](), spec);
  let mod: Record<string, unknown>;
  try {
    if (module.startsWith('.') || path.isAbsolute(module)) {
      const file = path.resolve(cwd, module);
      if (!existsSync(file)) {
        throw new NuvomError('NUVOM_E_PLUGIN_LOAD', `plugin "${spec}": file ${file} does not exist (paths are relative to ${cwd})`);
      }
      mod = await importFile(file);
    } else {
      const req = createRequire(path.join(cwd, 'noop.js'));
      let resolved: string;
      try {
        resolved = req.resolve(module);
      } catch (err) {
        throw new NuvomError('NUVOM_E_PLUGIN_LOAD', `plugin "${spec}": cannot find package "${module}" from ${cwd}; install it (npm install ${module}) or fix the name`, { cause: err });
      }
      mod = await importFile(resolved);
    }
  } catch (err) {
    if (err instanceof NuvomError) throw err;
    throw new NuvomError('NUVOM_E_PLUGIN_LOAD', `plugin "${spec}": import failed: ${messageOf(err)}`, { cause: err });
  }
  const key = exportName ?? 'default';
  if (!(key in mod) || mod[key] === undefined) {
    const exported = Object.keys(mod).filter((k) => k !== '__esModule');
    throw new NuvomError('NUVOM_E_PLUGIN_LOAD', `plugin "${spec}": the module has no export "${key}"; it exports: ${exported.join(', ') || '(nothing)'}${exportName ? '' : '. Name one with "module:ExportName"'}`);
  }
  return validatePlugin(mod[key], `plugin "${spec}"`);
}

/** Imports a JS or TS file (TS through tsx, no build step), unwrapping CommonJS interop. */
export async function importFile(file: string): Promise<Record<string, unknown>> {
  let ns: Record<string, unknown>;
  if (/\.(c|m)?tsx?$/.test(file)) {
    const { tsImport } = await import('tsx/esm/api');
    ns = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  } else {
    ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  }
  // A TS file outside a "type": "module" package loads as CommonJS: its exports sit under `default`.
  const inner = ns.default as Record<string, unknown> | undefined;
  if (inner && typeof inner === 'object' && inner.__esModule === true) return inner;
  return ns;
}

/** Orders plugins so that each comes after the plugins it depends on; a cycle names its members. */
export function orderPlugins(loaded: LoadedPlugin[]): LoadedPlugin[] {
  const byName = new Map<string, LoadedPlugin>();
  for (const l of loaded) {
    const prior = byName.get(l.plugin.name);
    if (prior) {
      throw new NuvomError('NUVOM_E_PLUGIN_DUPLICATE', `two plugins are named "${l.plugin.name}" (from ${prior.source} and ${l.source}); plugin names must be unique`, { plugin: l.plugin.name });
    }
    byName.set(l.plugin.name, l);
  }
  for (const l of loaded) {
    for (const dep of l.plugin.dependsOn ?? []) {
      if (!byName.has(dep)) {
        throw new NuvomError('NUVOM_E_PLUGIN_DEPENDENCY', `depends on plugin "${dep}", which is not loaded; add it to .nuvom_plugins.toml or remove the dependency`, { plugin: l.plugin.name });
      }
    }
  }
  const out: LoadedPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (l: LoadedPlugin, stack: string[]) => {
    const s = state.get(l.plugin.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(l.plugin.name)), l.plugin.name];
      throw new NuvomError('NUVOM_E_PLUGIN_CYCLE', `plugin dependencies form a cycle: ${cycle.join(' -> ')}`, { details: { cycle } });
    }
    state.set(l.plugin.name, 'visiting');
    for (const dep of l.plugin.dependsOn ?? []) visit(byName.get(dep)!, [...stack, l.plugin.name]);
    state.set(l.plugin.name, 'done');
    out.push(l);
  };
  for (const l of loaded) visit(l, []);
  return out;
}

/** The timer is not unref'd: a plugin whose start() hangs on nothing must fail with its name, not let the process exit silently. */
export async function withTimeout<T>(work: () => T | Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(work),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export interface HostTimeouts {
  startMs: number;
  stopMs: number;
}

/** Runs register() then start() for each plugin in order. On a failure, stops what started and throws. */
export async function startPlugins(
  ordered: LoadedPlugin[],
  contextFor: (p: NuvomPlugin) => PluginContext,
  settingsFor: (p: NuvomPlugin) => Readonly<Record<string, unknown>>,
  timeouts: HostTimeouts,
  /** Runs once every plugin has registered, before any starts (the configuration's choices, lazy loads). */
  afterRegister?: () => void | Promise<void>,
): Promise<void> {
  for (const l of ordered) {
    await step(l, 'register', () => l.plugin.register?.(contextFor(l.plugin)), timeouts.startMs);
    l.state = 'registered';
  }
  await afterRegister?.();
  for (const l of ordered) {
    try {
      await step(l, 'start', () => l.plugin.start?.(settingsFor(l.plugin), contextFor(l.plugin)), timeouts.startMs);
      l.state = 'started';
    } catch (err) {
      l.state = 'failed';
      await stopPlugins(ordered.filter((x) => x.state === 'started'), timeouts);
      throw err;
    }
  }
}

/** Calls stop() in reverse order, each under the time limit; returns the failures instead of throwing. */
export async function stopPlugins(ordered: LoadedPlugin[], timeouts: HostTimeouts): Promise<NuvomError[]> {
  const errors: NuvomError[] = [];
  for (const l of [...ordered].reverse()) {
    if (l.state !== 'started') continue;
    try {
      await step(l, 'stop', () => l.plugin.stop?.(), timeouts.stopMs);
    } catch (err) {
      errors.push(err as NuvomError);
    }
    l.state = 'stopped';
  }
  return errors;
}

async function step(l: LoadedPlugin, phase: 'register' | 'start' | 'stop', work: () => unknown, ms: number): Promise<void> {
  const code = phase === 'stop' ? 'NUVOM_E_PLUGIN_STOP' : 'NUVOM_E_PLUGIN_START';
  try {
    await withTimeout(work, ms, () => new NuvomError(code, `${phase}() did not finish within ${ms} ms`, { plugin: l.plugin.name, hook: phase }));
  } catch (err) {
    if (err instanceof NuvomError && err.plugin) throw err;
    throw new NuvomError(err instanceof NuvomError ? err.code : code, `${phase}() failed: ${messageOf(err)}`, { plugin: l.plugin.name, hook: phase, cause: err });
  }
}
