/** The registry's setting (docs/configuration.md): the task manifest it reads (discovery writes it). */
import { settingParsers, type SettingSpec } from '../../sdk/plugin.ts';

declare module '../../sdk/plugin.ts' {
  interface NuvomSettings {
    manifestPath: string;
  }
}

export const registrySettings = {
  manifestPath: { env: 'NUVOM_MANIFEST_PATH', doc: 'task manifest written by discovery', default: '.nuvom/manifest.json', parse: settingParsers.string } as SettingSpec<string>,
};
