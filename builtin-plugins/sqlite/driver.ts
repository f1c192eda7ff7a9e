/**
 * The SQLite plugin's name and its driver. better-sqlite3 (a native addon) loads when the first file
 * is opened, not with the plugin: a process whose config chooses another backend never loads it.
 * Must never: import better-sqlite3 at the top (it is CommonJS: required on first use).
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

export const PLUGIN_NAME = 'nuvom-sqlite';

let driver: typeof Database | undefined;

/** better-sqlite3's Database class, required on the first call. */
export function sqliteDriver(): typeof Database {
  driver ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  return driver;
}
