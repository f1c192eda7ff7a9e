/** The SQLite plugin's settings (docs/configuration.md): where its database files live. */
import { settingParsers, type SettingSpec } from '../../sdk/plugin.ts';

declare module '../../sdk/plugin.ts' {
  interface NuvomSettings {
    sqlitePath: string;
    sqliteQueuePath: string;
    sqliteResultPath: string;
  }
}

const DEFAULT_PATH = '.nuvom/nuvom.db';

export const sqliteSettings = {
  sqlitePath: { env: 'NUVOM_SQLITE_PATH', doc: 'SQLite file for queue, results and schedules', default: DEFAULT_PATH, parse: settingParsers.string } as SettingSpec<string>,
  sqliteQueuePath: {
    env: 'NUVOM_SQLITE_QUEUE_PATH', doc: 'SQLite file for the queue (defaults to NUVOM_SQLITE_PATH)', derived: true,
    default: (s) => (s.sqlitePath as string | undefined) ?? DEFAULT_PATH, parse: settingParsers.string,
  } as SettingSpec<string>,
  sqliteResultPath: {
    env: 'NUVOM_SQLITE_RESULT_PATH', doc: 'SQLite file for results and schedules (defaults to NUVOM_SQLITE_PATH)', derived: true,
    default: (s) => (s.sqlitePath as string | undefined) ?? DEFAULT_PATH, parse: settingParsers.string,
  } as SettingSpec<string>,
};
