/** The jobs plugin's settings (docs/configuration.md): a job's default timeout and its lease. */
import { settingParsers, type SettingSpec, type TimeoutPolicy } from '../../sdk/plugin.ts';

declare module '../../sdk/plugin.ts' {
  interface NuvomSettings {
    jobTimeoutSecs: number;
    timeoutPolicy: TimeoutPolicy;
    visibilityTimeoutSecs: number;
  }
}

const { number: num, oneOf } = settingParsers;
const POLICIES: readonly TimeoutPolicy[] = ['retry', 'fail', 'ignore'];

export const jobSettings = {
  jobTimeoutSecs: { env: 'NUVOM_JOB_TIMEOUT_SECS', doc: 'default task timeout in seconds', default: 30, parse: num(0.001, false) } as SettingSpec<number>,
  timeoutPolicy: { env: 'NUVOM_TIMEOUT_POLICY', doc: 'default timeout policy: retry, fail or ignore', default: 'retry', parse: oneOf(POLICIES) } as SettingSpec<TimeoutPolicy>,
  visibilityTimeoutSecs: {
    env: 'NUVOM_VISIBILITY_TIMEOUT_SECS', doc: 'lease length: a claimed job not renewed for this long is delivered again', default: 30, parse: num(0.05, false),
  } as SettingSpec<number>,
};
