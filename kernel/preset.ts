/**
 * Presets: a preset is a plain list of plugins (plus default settings) that a client or the CLI
 * boots with, like graphile-worker's presets. A preset may extend others; an application extends one
 * (more plugins), replaces one of its plugins (a plugin of the same name) or leaves one out (`disable`).
 * An entry may be lazy (`{ name, load }`): a plugin left out is never imported, so a process that
 * only enqueues loads no worker-pool code.
 * Must never: name a built-in plugin (presets live outside the kernel).
 */
import { NuvomError } from './errors.ts';
import type { Catalogue } from './plugin-host.ts';
import { validatePlugin } from './plugin-host.ts';
import type { NuvomPlugin } from './plugin.ts';
import { suggestKey } from './config/settings.ts';

/** A plugin imported only if the preset keeps it. */
export interface LazyPlugin {
  name: string;
  load(): NuvomPlugin | Promise<NuvomPlugin>;
}

export type PresetEntry = NuvomPlugin | LazyPlugin;

export interface Preset {
  name: string;
  /** Presets whose plugins come first (in order); a later entry of the same name replaces an earlier. */
  extends?: readonly Preset[];
  plugins?: readonly PresetEntry[];
  /** Defaults for settings (rank below every source, above the plugins' own defaults). */
  settings?: Readonly<Record<string, unknown>>;
  /** Specs such as "nuvom/plugins/prometheus" that .nuvom_plugins.toml may name. */
  catalogue?: Catalogue;
}

export interface PresetChoice {
  /** Added after the preset's plugins; one with the name of a preset plugin replaces it in place. */
  plugins?: readonly PresetEntry[];
  /** Names of preset plugins to leave out (never imported). */
  disable?: readonly string[];
}

export interface ResolvedPreset {
  name: string;
  plugins: NuvomPlugin[];
  settings: Record<string, unknown>;
  catalogue: Catalogue;
}

/** Identity helper for typing a preset. */
export function definePreset(preset: Preset): Preset {
  return preset;
}

function isLazy(e: PresetEntry): e is LazyPlugin {
  return typeof (e as LazyPlugin).load === 'function' && (e as NuvomPlugin).apiVersion === undefined;
}

/** The preset's entries, its parents' first, a later entry replacing an earlier one of the same name. */
export function presetEntries(preset: Preset, seen: Set<Preset> = new Set()): PresetEntry[] {
  if (seen.has(preset)) throw new NuvomError('NUVOM_E_CONFIG', `preset "${preset.name}" extends itself (through its parents)`);
  seen.add(preset);
  const out: PresetEntry[] = [];
  const put = (e: PresetEntry) => {
    const i = out.findIndex((x) => x.name === e.name);
    if (i >= 0) out[i] = e; else out.push(e);
  };
  for (const parent of preset.extends ?? []) for (const e of presetEntries(parent, seen)) put(e);
  for (const e of preset.plugins ?? []) put(e);
  seen.delete(preset);
  return out;
}

function mergedSettings(preset: Preset): Record<string, unknown> {
  return Object.assign({}, ...(preset.extends ?? []).map(mergedSettings), preset.settings ?? {});
}

function mergedCatalogue(preset: Preset): Catalogue {
  return Object.assign({}, ...(preset.extends ?? []).map(mergedCatalogue), preset.catalogue ?? {});
}

/** Applies the application's choice to a preset and imports the plugins it keeps. */
export async function resolvePreset(preset: Preset, choice: PresetChoice = {}): Promise<ResolvedPreset> {
  const entries = presetEntries(preset);
  for (const name of choice.disable ?? []) {
    if (!entries.some((e) => e.name === name)) {
      const near = suggestKey(name, entries.map((e) => e.name));
      throw new NuvomError('NUVOM_E_CONFIG', `cannot disable "${name}": preset "${preset.name}" has no such plugin${near ? ` (did you mean "${near}"?)` : ''}; it has: ${entries.map((e) => e.name).join(', ')}`);
    }
  }
  const kept = entries.filter((e) => !(choice.disable ?? []).includes(e.name));
  for (const e of choice.plugins ?? []) {
    const i = kept.findIndex((x) => x.name === e.name);
    if (i >= 0) kept[i] = e; else kept.push(e);
  }
  // The kept modules load at once (their files are read while others compile); a failure is
  // reported for the first failing entry in the preset's order, as a one-by-one load would.
  const modules = await Promise.allSettled(kept.map(async (e) => (isLazy(e) ? e.load() : e)));
  const plugins: NuvomPlugin[] = [];
  for (const [i, e] of kept.entries()) {
    const m = modules[i];
    if (m.status === 'rejected') throw m.reason;
    // An entry given as an object is checked as a loaded one is (it was trusted as written).
    const plugin = validatePlugin(isLazy(e) ? m.value : e, isLazy(e) ? `preset "${preset.name}" plugin "${e.name}"` : `preset "${preset.name}" entry ${JSON.stringify(e?.name)}`);
    if (plugin.name !== e.name) {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `preset "${preset.name}" lists "${e.name}" but its module loads a plugin named "${plugin.name}"`, { plugin: plugin.name });
    }
    plugins.push(plugin);
  }
  return { name: preset.name, plugins, settings: mergedSettings(preset), catalogue: mergedCatalogue(preset) };
}
