/**
 * `nuvom/plugin`: everything a plugin author (built-in or third-party) may import. Built-in plugins
 * import only this module and `nuvom/testing`.
 */
export * from '../kernel/index.ts';
