/**
 * Resolves settings, the kernel's and every plugin's, from the raw sources of a configuration. One
 * precedence for all, highest first: flag > real environment variable > `.env` > config file >
 * `[settings.<plugin>]` in .nuvom_plugins.toml > a preset's settings > a default a project plugin
 * suggests > a default a built-in suggests > the declared default.
 * Every value is validated by its declaration's parser; an error names where the bad value came from.
 * Must never: read files or the environment (the inputs were read by load.ts).
 */
import { NuvomError, messageOf } from '../errors.ts';
import type { NuvomPlugin, SettingSpec } from '../plugin.ts';
import { CONFIG_KEYS, type ConfigValue, type NuvomConfig } from './schema.ts';

export const KERNEL_OWNER = 'kernel';

interface OwnedSpec {
  key: string;
  spec: SettingSpec;
  owner: string;
}

/** Levenshtein distance (insertions, deletions, substitutions), for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]; row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The closest known key, for "did you mean" hints (case, substring, then a small edit distance). */
export function suggestKey(key: string, keys: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const direct = keys.find((k) => k.toLowerCase() === lower || k.toLowerCase().includes(lower) || lower.includes(k.toLowerCase()));
  if (direct) return direct;
  let best: { k: string; d: number } | undefined;
  for (const k of keys) { const d = editDistance(lower, k.toLowerCase()); if (!best || d < best.d) best = { k, d }; }
  return best && best.d <= Math.max(1, Math.floor(key.length / 3)) ? best.k : undefined;
}

/** Every declared setting, the kernel's first; two owners of one key or one variable is an error naming both. */
export function settingTable(plugins: readonly NuvomPlugin[]): Map<string, OwnedSpec> {
  const table = new Map<string, OwnedSpec>();
  const byEnv = new Map<string, OwnedSpec>();
  const add = (key: string, spec: SettingSpec, owner: string) => {
    const prior = table.get(key) ?? (spec.env ? byEnv.get(spec.env) : undefined);
    if (prior) {
      const what = table.has(key) ? `setting "${key}"` : `variable ${spec.env}`;
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `${what} is declared by both "${prior.owner}" and "${owner}"; setting names and variables are shared by all plugins, so one must rename it`, { plugin: owner });
    }
    const entry = { key, spec, owner };
    table.set(key, entry);
    if (spec.env) byEnv.set(spec.env, entry);
  };
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) add(key, spec as SettingSpec, KERNEL_OWNER);
  for (const p of plugins) for (const [key, spec] of Object.entries(p.settings ?? {})) add(key, spec, p.name);
  return table;
}

type Base = Pick<NuvomConfig, 'cwd' | 'rootReason' | 'plugins' | 'pluginSettings' | 'pluginsFilePath' | 'presetDisable' | 'inputs'>;

/**
 * The configuration with the settings of `plugins` (and the kernel's) resolved. With `complete`, the
 * config file and `[settings.<plugin>]` tables are also checked for keys nobody declares.
 */
export function resolveSettings(
  base: Base,
  plugins: readonly NuvomPlugin[],
  complete: boolean,
  /** A preset's default settings: above every plugin's suggestion and declared default. */
  presetDefaults?: { preset: string; settings: Readonly<Record<string, unknown>> },
  suggestions: SuggestionOptions = {},
): NuvomConfig {
  const { inputs } = base;
  const table = settingTable(plugins);
  const keys = [...table.keys()];

  if (complete && inputs.file) {
    const bad = Object.keys(inputs.file.config).filter((k) => !table.has(k));
    if (bad.length) {
      const hints = bad.map((k) => { const n = suggestKey(k, keys); return n ? `"${k}" (did you mean "${n}"?)` : `"${k}"`; });
      throw new NuvomError('NUVOM_E_CONFIG', `${inputs.file.filepath}: unknown setting(s) ${hints.join(', ')}; known settings: ${keys.join(', ')}`);
    }
  }
  // [settings.<plugin>] of a plugin that declares settings holds only its declared keys.
  const tables = new Map<string, Readonly<Record<string, unknown>>>();
  for (const p of plugins) {
    if (!p.settings) continue;
    const t = base.pluginSettings[p.name];
    if (!t) continue;
    const own = Object.keys(p.settings);
    const bad = Object.keys(t).filter((k) => !own.includes(k));
    if (bad.length) {
      const hints = bad.map((k) => { const n = suggestKey(k, own); return n ? `"${k}" (did you mean "${n}"?)` : `"${k}"`; });
      throw new NuvomError('NUVOM_E_CONFIG', `${base.pluginsFilePath}: [settings.${p.name}] has unknown key(s) ${hints.join(', ')}; "${p.name}" declares: ${own.join(', ') || '(nothing)'}`, { plugin: p.name });
    }
    tables.set(p.name, t);
  }
  // Defaults that plugins suggest for settings they do not own: the first plugin wins.
  const suggested = new Map<string, { value: unknown; plugin: string }>();
  for (const [key, value] of Object.entries(presetDefaults?.settings ?? {})) {
    if (!table.has(key)) {
      if (!complete) continue;
      throw new NuvomError('NUVOM_E_CONFIG', `preset "${presetDefaults!.preset}" sets "${key}", which no loaded plugin declares; known settings: ${keys.join(', ')}`);
    }
    suggested.set(key, { value, plugin: `preset ${presetDefaults!.preset}` });
  }
  // The project's own plugins (listed, programmatic) before the built-ins: the user chose to add them.
  const thirdParty = suggestions.thirdParty ?? new Set<string>();
  const outranked = new Map<string, Array<{ value: unknown; plugin: string }>>();
  for (const p of [...plugins.filter((x) => thirdParty.has(x.name)), ...plugins.filter((x) => !thirdParty.has(x.name))]) {
    for (const [key, value] of Object.entries(p.defaults ?? {})) {
      const prior = suggested.get(key);
      if (!prior) suggested.set(key, { value, plugin: p.name });
      else if (JSON.stringify(prior.value) !== JSON.stringify(value)) outranked.set(key, [...(outranked.get(key) ?? []), { value, plugin: p.name }]);
    }
  }

  interface Layer { source: ConfigValue['source']; origin: (k: OwnedSpec) => string | undefined; get: (k: OwnedSpec) => unknown }
  const layers: Layer[] = [];
  layers.push({ source: 'plugins-file', origin: () => base.pluginsFilePath ?? undefined, get: (k) => tables.get(k.owner)?.[k.key] });
  const file = inputs.file;
  if (file) layers.push({ source: 'file', origin: () => file.filepath, get: (k) => file.config[k.key] });
  layers.push({ source: '.env', origin: () => inputs.dotenvPath, get: (k) => (k.spec.env ? inputs.dotenv[k.spec.env] : undefined) });
  layers.push({ source: 'env', origin: (k) => k.spec.env, get: (k) => (k.spec.env ? inputs.env[k.spec.env] : undefined) });
  layers.push({ source: 'flag', origin: (k) => `--${k.key}`, get: (k) => inputs.flags[k.key] });

  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigValue> = {};
  const entries = [...table.values()];
  const ordered = [...entries.filter((e) => !e.spec.derived), ...entries.filter((e) => e.spec.derived)];
  for (const e of ordered) {
    let chosen: ConfigValue | undefined;
    for (const layer of layers) {
      const raw = layer.get(e);
      if (raw === undefined || raw === '') continue;
      try {
        chosen = { value: e.spec.parse(raw), source: layer.source, origin: layer.origin(e), owner: e.owner };
      } catch (err) {
        const where = layer.source === 'file' || layer.source === '.env' ? `${layer.origin(e)}: ` : '';
        const what = layer.source === 'flag' ? `option ${e.key}`
          : layer.source === 'file' ? `setting "${e.key}"`
            : layer.source === 'plugins-file' ? `${base.pluginsFilePath}: [settings.${e.owner}] ${e.key}`
              : e.spec.env;
        throw new NuvomError('NUVOM_E_CONFIG', `${where}${what}: ${messageOf(err)}`, { details: { key: e.key, source: layer.source }, plugin: e.owner === KERNEL_OWNER ? undefined : e.owner });
      }
    }
    if (!chosen) {
      const hint = suggested.get(e.key);
      if (hint !== undefined && hint.plugin !== e.owner) {
        try {
          chosen = { value: e.spec.parse(hint.value), source: 'default', origin: hint.plugin, owner: e.owner };
        } catch (err) {
          throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `suggests ${JSON.stringify(hint.value)} as the default of "${e.key}": ${messageOf(err)}`, { plugin: hint.plugin });
        }
        const losers = outranked.get(e.key);
        if (losers) suggestions.notes?.push(suggestionNote(e, hint, losers, thirdParty));
      } else {
        const d = e.spec.default;
        const value = typeof d === 'function' ? (d as (s: Readonly<Record<string, unknown>>) => unknown)(values) : d;
        chosen = { value, source: e.spec.derived ? 'derived' : 'default', owner: e.owner };
      }
    }
    values[e.key] = chosen.value;
    sources[e.key] = chosen;
  }
  // Keep the order of declaration in `nuvom config` (derived keys were resolved last).
  const orderedSources = Object.fromEntries(entries.map((e) => [e.key, Object.freeze(sources[e.key])]));
  const config = {
    ...base,
    ...values,
    sources: Object.freeze(orderedSources),
    settingsOf: Object.freeze(plugins.filter((p) => p.settings).map((p) => p.name)),
  } as NuvomConfig;
  return Object.freeze(config);
}

/** Which plugins' suggested defaults rank first, and where to say which suggestion won. */
export interface SuggestionOptions {
  /** The project's plugins (listed in .nuvom_plugins.toml, passed programmatically), in load order. */
  thirdParty?: ReadonlySet<string>;
  /** Receives a note for each setting two suggestions disagreed on and no source set. */
  notes?: Array<{ level: 'debug' | 'warn'; message: string }>;
}

/**
 * A warning when the outranked suggestion came from a project plugin (two of them disagree, or a
 * preset setting beat one): the order decided, not the user. A built-in outranked is expected (debug).
 */
function suggestionNote(
  e: OwnedSpec, won: { value: unknown; plugin: string }, lost: Array<{ value: unknown; plugin: string }>, thirdParty: ReadonlySet<string>,
): { level: 'debug' | 'warn'; message: string } {
  const who = (plugin: string) => (plugin.startsWith('preset ') ? plugin : `plugin "${plugin}"`);
  const others = lost.map((l) => `${JSON.stringify(l.value)} (${who(l.plugin)})`).join(', ');
  const how = e.spec.env ? `set ${e.spec.env}` : `set "${e.key}"`;
  return {
    level: lost.some((l) => thirdParty.has(l.plugin)) ? 'warn' : 'debug',
    message: `${e.key}: ${who(won.plugin)} suggests ${JSON.stringify(won.value)}, which is used over ${others} (a preset's settings, then the project's plugins in the order listed, then the built-ins); ${how} to choose`,
  };
}

/**
 * The NUVOM_* variables as the loader read them: the environment it was given over the project's
 * `.env`. For a plugin that reads a variable outside its declared settings; no plugin re-reads `.env`.
 */
export function configVariables(config: Pick<NuvomConfig, 'inputs'>): Readonly<Record<string, string | undefined>> {
  return Object.freeze({ ...config.inputs.dotenv, ...config.inputs.env });
}

/** What a plugin's start() and ctx.settings receive: its declared settings, or its TOML table as written. */
export function settingsFor(config: NuvomConfig, plugin: NuvomPlugin): Readonly<Record<string, unknown>> {
  if (!plugin.settings) return config.pluginSettings[plugin.name] ?? Object.freeze({});
  return Object.freeze(Object.fromEntries(Object.keys(plugin.settings).map((k) => [k, config[k]])));
}
