/** The file plugin's settings (docs/configuration.md): its two directories. */
import { settingParsers, type SettingSpec } from '../../sdk/plugin.ts';

declare module '../../sdk/plugin.ts' {
  interface NuvomSettings {
    fileQueueDir: string;
    fileResultDir: string;
  }
}

export const fileSettings = {
  fileQueueDir: { env: 'NUVOM_FILE_QUEUE_DIR', doc: 'directory of the file queue', default: '.nuvom/queue', parse: settingParsers.string } as SettingSpec<string>,
  fileResultDir: { env: 'NUVOM_FILE_RESULT_DIR', doc: 'directory of the file result store', default: '.nuvom/results', parse: settingParsers.string } as SettingSpec<string>,
};
