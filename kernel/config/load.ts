/**
 * Loads the configuration of the project root (root.ts). Precedence, highest first: CLI flag > real environment variable > `.env`
 * in the working directory > config file (cosmiconfig "nuvom") > `[settings.<plugin>]` > defaults
 * (settings.ts). The plugin listing comes from .nuvom_plugins.toml. The result is validated, frozen,
 * and every value knows its source.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { createRequire } from 'node:module';
import { NuvomError, messageOf } from '../errors.ts';
import { importPlugin, type Catalogue } from '../plugin-host.ts';
import type { NuvomPlugin } from '../plugin.ts';
import type { ConfigInputs, ConfigKey, NuvomConfig, PluginSpecs } from './schema.ts';
import { resolveSettings } from './settings.ts';
import { findProjectRoot } from './root.ts';

export interface LoadConfigOptions {
  /** The project directory, taken as is; without it the root is found upward from process.cwd() (root.ts). */
  cwd?: string;
  /** CLI flags (highest precedence). Undefined values are ignored. */
  flags?: Partial<Record<ConfigKey, unknown>> & Record<string, unknown>;
  /** Programmatic overrides (createClient options); rank with flags. */
  overrides?: Partial<Record<ConfigKey, unknown>> & Record<string, unknown>;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Skip searching for a config file (tests). */
  noConfigFile?: boolean;
  /**
   * Plugins whose settings to resolve too (a preset's, the application's). Without it, only the
   * kernel's settings are resolved here; bootKernel always resolves every loaded plugin's, before any
   * registers, and refuses keys that no loaded plugin declares.
   */
  plugins?: readonly NuvomPlugin[];
}

async function tsxLoader(filepath: string): Promise<unknown> {
  const { tsImport } = await import('tsx/esm/api');
  let v: unknown = await tsImport(pathToFileURL(filepath).href, import.meta.url);
  // A TS file may load as CommonJS interop: { default: { default: config } }.
  for (let i = 0; i < 2 && v && typeof v === 'object' && 'default' in v; i++) v = (v as { default: unknown }).default;
  return v;
}

const SEARCH_PLACES = [
  'package.json', '.nuvomrc', '.nuvomrc.json', '.nuvomrc.yaml', '.nuvomrc.yml', '.nuvomrc.js', '.nuvomrc.ts',
  '.nuvomrc.mjs', '.nuvomrc.cjs', 'nuvom.config.js', 'nuvom.config.ts', 'nuvom.config.mjs', 'nuvom.config.cjs',
  'nuvom.config.json',
];

/** A package.json with one of `keys` at its top, or one that cannot be read as JSON (cosmiconfig then says why). */
function packageHas(file: string, keys: readonly string[]): boolean {
  try {
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return pkg !== null && typeof pkg === 'object' && keys.some((k) => k in pkg);
  } catch {
    return true;
  }
}

/**
 * Whether cosmiconfig could find anything: one of SEARCH_PLACES in a directory of its "project"
 * search (`cwd` up to the first one holding package.json or package.yaml), a package.json with a
 * "nuvom" key there, or its own meta-configuration in process.cwd() (package.json "cosmiconfig",
 * package.yaml, .config/). Most projects have none of them: cosmiconfig (a dozen modules, ~15 ms of a
 * worker's start) is then not loaded at all.
 */
function mayHaveConfigFile(cwd: string): boolean {
  const here = process.cwd();
  if (existsSync(path.join(here, '.config')) || existsSync(path.join(here, 'package.yaml'))) return true;
  if (existsSync(path.join(here, 'package.json')) && packageHas(path.join(here, 'package.json'), ['cosmiconfig'])) return true;
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    for (const place of SEARCH_PLACES.slice(1)) if (existsSync(path.join(dir, place))) return true;
    const pkg = path.join(dir, 'package.json');
    const hasPkg = existsSync(pkg);
    if (hasPkg && packageHas(pkg, ['nuvom'])) return true;
    if (hasPkg || existsSync(path.join(dir, 'package.yaml')) || path.dirname(dir) === dir) return false;
  }
}

async function readConfigFile(cwd: string): Promise<{ config: Record<string, unknown>; filepath: string } | null> {
  if (!mayHaveConfigFile(cwd)) return null;
  const { cosmiconfig, defaultLoaders } = await import('cosmiconfig');
  const explorer = cosmiconfig('nuvom', {
    searchStrategy: 'project',
    loaders: { ...defaultLoaders, '.ts': tsxLoader, '.mts': tsxLoader, '.cts': tsxLoader },
    searchPlaces: SEARCH_PLACES,
  });
  let found;
  try {
    found = await explorer.search(cwd);
  } catch (err) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `could not read the nuvom config file: ${messageOf(err)}`, { cause: err });
  }
  if (!found || found.isEmpty) return null;
  if (typeof found.config !== 'object' || found.config === null || Array.isArray(found.config)) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${found.filepath}: the nuvom config must be an object such as { "logLevel": "warn" }`);
  }
  return { config: found.config as Record<string, unknown>, filepath: found.filepath };
}

function readDotEnv(cwd: string): Record<string, string> {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return {};
  try {
    return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: could not parse: ${messageOf(err)}`, { cause: err });
  }
}

type SmolToml = typeof import('smol-toml');
let smolToml: SmolToml | undefined;

/**
 * smol-toml, required where a .nuvom_plugins.toml is read (its CommonJS build: one file, where the
 * ES build is nine modules): a project without one loads no TOML parser.
 */
function toml(): SmolToml {
  smolToml ??= createRequire(import.meta.url)('smol-toml') as SmolToml;
  return smolToml;
}

/** Parses .nuvom_plugins.toml text; errors name the file, line and column. */
export function parsePluginsToml(text: string, file: string): { plugins: PluginSpecs; settings: Record<string, Record<string, unknown>>; disable: string[] } {
  const { parse: parseToml, TomlError } = toml();
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}:${err.line}:${err.column}: invalid TOML: ${err.message.split('\n')[0]}`, { cause: err, details: { line: err.line, column: err.column } });
    }
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: invalid TOML: ${messageOf(err)}`, { cause: err });
  }
  const plugins: PluginSpecs = {};
  const rawPlugins = doc.plugins ?? {};
  if (typeof rawPlugins !== 'object' || rawPlugins === null || Array.isArray(rawPlugins)) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: [plugins] must be a table of capability = ["module:Export", ...]`);
  }
  for (const [cap, specs] of Object.entries(rawPlugins)) {
    const list = typeof specs === 'string' ? [specs] : specs;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
      throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: plugins.${cap} must be a list of module specifiers, e.g. ${cap} = ["./plugins/x.ts:MyPlugin"]`);
    }
    plugins[cap] = (list as string[]).map((s) => s.trim());
  }
  const settings: Record<string, Record<string, unknown>> = {};
  const rawSettings = doc.settings ?? {};
  if (typeof rawSettings !== 'object' || rawSettings === null || Array.isArray(rawSettings)) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: [settings] must hold one table per plugin, e.g. [settings.my_queue]`);
  }
  for (const [plugin, table] of Object.entries(rawSettings)) {
    if (typeof table !== 'object' || table === null || Array.isArray(table) || table instanceof Date) {
      throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: settings.${plugin} must be a table ([settings.${plugin}])`);
    }
    settings[plugin] = JSON.parse(JSON.stringify(table)) as Record<string, unknown>;
  }
  const rawPreset = doc.preset ?? {};
  if (typeof rawPreset !== 'object' || rawPreset === null || Array.isArray(rawPreset)) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: [preset] must be a table such as disable = ["nuvom-dashboard"]`);
  }
  const presetKeys = Object.keys(rawPreset).filter((k) => k !== 'disable');
  if (presetKeys.length) throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: [preset] has unknown key(s) ${presetKeys.join(', ')}; only disable = ["plugin-name", ...] is read`);
  const disable = (rawPreset as { disable?: unknown }).disable ?? [];
  if (!Array.isArray(disable) || disable.some((d) => typeof d !== 'string' || d === '')) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: preset.disable must be a list of plugin names, e.g. disable = ["nuvom-dashboard"]`);
  }
  const unknown = Object.keys(doc).filter((k) => k !== 'plugins' && k !== 'settings' && k !== 'preset');
  if (unknown.length) {
    throw new NuvomError('NUVOM_E_CONFIG_FILE', `${file}: unknown top-level table(s) ${unknown.map((k) => `[${k}]`).join(', ')}; only [plugins], [preset] and [settings.<plugin>] are read`);
  }
  return { plugins, settings, disable: disable as string[] };
}

export async function loadConfig(opts: LoadConfigOptions = {}): Promise<NuvomConfig> {
  const root = findProjectRoot(process.cwd(), opts.cwd);
  const cwd = root.dir;
  const env = opts.env ?? process.env;
  const file = opts.noConfigFile ? null : await readConfigFile(cwd);
  const inputs: ConfigInputs = Object.freeze({
    file: file ? Object.freeze({ config: Object.freeze({ ...file.config }), filepath: file.filepath }) : null,
    dotenv: Object.freeze(readDotEnv(cwd)),
    dotenvPath: path.join(cwd, '.env'),
    env: Object.freeze({ ...env }),
    flags: Object.freeze(Object.fromEntries(Object.entries({ ...(opts.overrides ?? {}), ...(opts.flags ?? {}) }).filter(([, v]) => v !== undefined))),
  });
  const empty = { cwd, rootReason: root.reason, plugins: {}, pluginSettings: {}, pluginsFilePath: null, presetDisable: [], inputs };
  // The kernel's keys first: the plugins file's name is one of them.
  const kernelOnly = resolveSettings(empty, [], false);

  const pluginsFilePath = path.resolve(cwd, kernelOnly.pluginsFile);
  let plugins: PluginSpecs = {};
  let pluginSettings: Record<string, Record<string, unknown>> = {};
  let pluginsFileRead: string | null = null;
  let presetDisable: string[] = [];
  if (existsSync(pluginsFilePath)) {
    const parsed = parsePluginsToml(readFileSync(pluginsFilePath, 'utf8'), pluginsFilePath);
    plugins = parsed.plugins;
    pluginSettings = parsed.settings;
    presetDisable = parsed.disable;
    pluginsFileRead = pluginsFilePath;
  }
  const base = {
    ...empty,
    plugins: Object.freeze(plugins),
    pluginSettings: Object.freeze(Object.fromEntries(Object.entries(pluginSettings).map(([k, v]) => [k, Object.freeze(v)]))),
    pluginsFilePath: pluginsFileRead,
    presetDisable: Object.freeze(presetDisable),
  };
  // Unknown keys can be told only when every plugin is known: here if the plugins file lists none,
  // else at boot (bootKernel imports the listed plugins, then resolves every plugin's settings).
  const complete = opts.plugins !== undefined && Object.keys(plugins).length === 0;
  return resolveSettings(base, opts.plugins ?? [], complete);
}

/** Imports the plugins .nuvom_plugins.toml lists (each spec once), in listing order. */
export async function importListedPlugins(
  config: Pick<NuvomConfig, 'plugins' | 'cwd'>,
  catalogue?: Catalogue,
): Promise<Array<{ plugin: NuvomPlugin; spec: string; capability: string }>> {
  const out: Array<{ plugin: NuvomPlugin; spec: string; capability: string }> = [];
  const seen = new Set<string>();
  for (const [capability, specs] of Object.entries(config.plugins)) {
    for (const spec of specs) {
      if (seen.has(spec)) continue;
      seen.add(spec);
      out.push({ plugin: await importPlugin(spec, config.cwd, catalogue), spec, capability });
    }
  }
  return out;
}

/** Resolves a configured path against the configuration's working directory. */
export function resolvePath(config: Pick<NuvomConfig, 'cwd'>, p: string): string {
  return path.resolve(config.cwd, p);
}
