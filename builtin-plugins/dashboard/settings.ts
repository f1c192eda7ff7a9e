/**
 * `[settings.nuvom-dashboard]` (host, port, token, user, password, readonly) with
 * NUVOM_DASHBOARD_TOKEN/USER/PASSWORD over it, read the way nuvom-prometheus reads its settings.
 * Must never: accept an unknown key silently, or a user without a password.
 */
import { NuvomError } from '../../sdk/plugin.ts';
import type { DashboardAuth } from './security.ts';

export const PLUGIN_NAME = 'nuvom-dashboard';
const KNOWN = ['host', 'port', 'token', 'user', 'password', 'readonly'];

export interface DashboardSettings {
  host: string;
  port: number;
  auth: DashboardAuth;
  readOnly: boolean;
}

export function readSettings(raw: Readonly<Record<string, unknown>>, env: Record<string, string | undefined>): DashboardSettings {
  const key = (k: string) => `[settings.${PLUGIN_NAME}] ${k}`;
  const bad = (what: string, how: string): never => { throw new NuvomError('NUVOM_E_CONFIG', `${what} ${how}`, { plugin: PLUGIN_NAME }); };
  const unknown = Object.keys(raw).filter((k) => !KNOWN.includes(k));
  if (unknown.length) bad(`[settings.${PLUGIN_NAME}]`, `has unknown key(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  const host = raw.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !host.trim()) bad(key('host'), 'must be a host name or address, e.g. "127.0.0.1"');
  const port = raw.port ?? 9160;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) bad(key('port'), 'must be a whole number from 0 to 65535 (0 takes any free port)');
  const str = (k: string, e: string): string | undefined => {
    const v = env[e] || raw[k];
    if (v !== undefined && (typeof v !== 'string' || v === '')) bad(env[e] ? e : key(k), 'must be a non-empty string');
    return v as string | undefined;
  };
  const token = str('token', 'NUVOM_DASHBOARD_TOKEN');
  const user = str('user', 'NUVOM_DASHBOARD_USER');
  const password = str('password', 'NUVOM_DASHBOARD_PASSWORD');
  if ((user === undefined) !== (password === undefined)) bad(key(user ? 'password' : 'user'), 'is missing: basic auth needs both user and password');
  const readOnly = raw.readonly ?? false;
  if (typeof readOnly !== 'boolean') bad(key('readonly'), 'must be true or false');
  return { host: (host as string).trim(), port: port as number, readOnly: readOnly as boolean, auth: { token, basic: user && password ? { user, password } : undefined } };
}
