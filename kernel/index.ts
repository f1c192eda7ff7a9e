/** The kernel's public surface, re-exported by sdk/plugin.ts for plugin authors. */
export * from './contracts.ts';
export * from './errors.ts';
export * from './hooks.ts';
export * from './plugin.ts';
export { ServiceContainer, type Provider, type ProvideOptions } from './container.ts';
export { bootKernel, Kernel, SERVICE_SELECTIONS, type BootOptions } from './kernel.ts';
export { importFile, importPlugin, orderPlugins, parseSpec, validatePlugin, validatePlugins, withTimeout, type Catalogue, type LoadedPlugin } from './plugin-host.ts';
export { importListedPlugins, loadConfig, parsePluginsToml, resolvePath, type LoadConfigOptions } from './config/load.ts';
export { configVariables, editDistance, resolveSettings, settingsFor, settingTable, suggestKey, type SuggestionOptions } from './config/settings.ts';
export { findProjectRoot, type ProjectRoot } from './config/root.ts';
export { CONFIG_KEYS, settingParsers, type ConfigInputs, type ConfigKey, type KernelSettings, type ConfigSource, type ConfigValue, type NuvomConfig, type NuvomSettings } from './config/schema.ts';
export { createLogger, type LoggerOptions } from './logger.ts';
export { definePreset, presetEntries, resolvePreset, type LazyPlugin, type Preset, type PresetChoice, type PresetEntry, type ResolvedPreset } from './preset.ts';
