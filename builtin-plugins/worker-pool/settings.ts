/** The worker pool's settings (docs/configuration.md): threads, slots, claim size, heap limit. */
import { availableParallelism } from 'node:os';
import { settingParsers, type SettingSpec } from '../../sdk/plugin.ts';

declare module '../../sdk/plugin.ts' {
  interface NuvomSettings {
    maxWorkers: number;
    concurrency: number;
    batchSize: number;
    memoryLimitMb: number;
  }
}

const { number: num } = settingParsers;

export const poolSettings = {
  maxWorkers: { env: 'NUVOM_MAX_WORKERS', doc: "worker threads in the pool (0: run jobs in-process, on the worker's main thread)", default: () => availableParallelism(), parse: num(0, true) } as SettingSpec<number>,
  concurrency: { env: 'NUVOM_CONCURRENCY', doc: 'jobs run at once in one thread (async tasks)', default: 1, parse: num(1, true) } as SettingSpec<number>,
  batchSize: { env: 'NUVOM_BATCH_SIZE', doc: 'most jobs claimed ahead of free slots, in one claim (fewer while jobs are slow)', default: 500, parse: num(1, true) } as SettingSpec<number>,
  memoryLimitMb: {
    env: 'NUVOM_MEMORY_LIMIT_MB', doc: "heap limit per worker thread in MB (0: Node's default); a task that exceeds it fails and its thread is replaced",
    default: 0, parse: num(0, true),
  } as SettingSpec<number>,
};
