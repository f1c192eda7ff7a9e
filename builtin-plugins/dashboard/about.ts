/**
 * GET /api/plugins: the loaded plugins and the chosen services (the kernel's `kernelInfo`), every
 * setting with its source, and the `[settings.<plugin>]` tables, with secrets masked.
 * A secret is a value under a key named like a token, password, secret, key or credential, or the
 * password inside a URL (postgres://user:PASSWORD@host/db), at any depth.
 * Must never: send a secret's value, even in part.
 */
import type { KernelInfo, NuvomConfig } from '../../sdk/plugin.ts';
import type { DashboardSource } from './source.ts';

export const MASK = '********';
const SECRET_KEY = /token|passw(or)?d|pwd|secret|api[-_]?key|private[-_]?key|credential|auth/i;

/** The value with its password replaced when it is a URL carrying credentials; else unchanged. */
function maskUrl(s: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(s)) return s;
  try {
    const u = new URL(s);
    if (!u.password && !u.username) return s;
    if (u.password) u.password = MASK;
    else u.username = MASK; // a lone user part is often the token itself (https://TOKEN@host)
    return u.toString();
  } catch {
    return s.replace(/\/\/[^/]*@/, `//${MASK}@`);
  }
}

/** A copy of `value` with every secret masked (by key name, or a URL's password). */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (key && SECRET_KEY.test(key) && value !== null && value !== undefined && value !== '' && typeof value !== 'boolean') return MASK;
  if (typeof value === 'string') return maskUrl(value);
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  return value;
}

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
