/**
 * GET /api/plugins: the loaded plugins and the chosen services (the kernel's `kernelInfo`), every
 * setting with its source, and the `[settings.<plugin>]` tables, with secrets masked (maskSecrets,
 * nuvom/plugin).
 * Must never: send a secret's value, even in part.
 */
import { maskSecrets, type KernelInfo, type NuvomConfig } from '../../sdk/plugin.ts';
import type { DashboardSource } from './source.ts';

export interface AboutView {
  plugins: ReturnType<KernelInfo['plugins']>;
  services: ReturnType<KernelInfo['services']>;
  config: Array<{ key: string; value: unknown; source: string; origin: string | null }>;
  pluginSettings: Record<string, unknown>;
  pluginsFile: string | null;
}

/** The kernel info and configuration behind a source (its own, or a Client's kernel and config). */
function partsOf(src: DashboardSource): { info?: KernelInfo; config?: NuvomConfig } {
  if (src.about) return src.about();
  const c = src as { kernel?: { resolve?: (t: 'kernelInfo') => KernelInfo }; config?: NuvomConfig };
  return { info: typeof c.kernel?.resolve === 'function' ? c.kernel.resolve('kernelInfo') : undefined, config: c.config };
}

export function aboutOf(src: DashboardSource): AboutView {
  const { info, config } = partsOf(src);
  return {
    plugins: info?.plugins() ?? [],
    services: info?.services() ?? {},
    config: config ? Object.entries(config.sources).map(([key, v]) => ({ key, value: maskSecrets(v.value, key), source: v.source, origin: v.origin ?? null })) : [],
    pluginSettings: maskSecrets(config?.pluginSettings ?? {}) as Record<string, unknown>,
    pluginsFile: config?.pluginsFilePath ?? null,
  };
}
