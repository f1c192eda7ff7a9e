/**
 * The dashboard's access rules: optional bearer token or basic-auth credentials, a CSRF token plus a
 * same-origin check for every POST, a read-only mode, and the rule that a non-loopback address needs
 * credentials. Comparisons are constant-time.
 * Must never: accept a POST whose Origin differs from its Host, or bind beyond loopback without auth.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { NuvomError } from '../../sdk/plugin.ts';

export interface DashboardAuth {
  /** Accept `Authorization: Bearer <token>` (or `?token=` once, which sets a cookie). */
  token?: string;
  /** Accept HTTP basic auth with these credentials. */
  basic?: { user: string; password: string };
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export const newCsrfToken = () => randomBytes(24).toString('base64url');

/** The host name of a Host header, without its port ("[::1]:9160" -> "[::1]"). */
export function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Throws NUVOM_E_CONFIG when `host` is not loopback and no credentials are set. */
export function checkBind(host: string, auth: DashboardAuth): void {
  if (isLoopback(host) || auth.token || auth.basic) return;
  throw new NuvomError('NUVOM_E_CONFIG', `the dashboard refuses to listen on "${host}" without credentials: anyone who can reach it could retry and cancel jobs. Set token or user and password in [settings.nuvom-dashboard] (or NUVOM_DASHBOARD_TOKEN), or keep the default host 127.0.0.1`, { plugin: 'nuvom-dashboard' });
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** True when the request carries the configured credentials (or none are configured). */
export function authorized(req: IncomingMessage, auth: DashboardAuth, url: URL): boolean {
  if (!auth.token && !auth.basic) return true;
  const h = req.headers.authorization ?? '';
  if (auth.token) {
    if (h.startsWith('Bearer ') && same(h.slice(7), auth.token)) return true;
    // The URL's token first: a cookie left from an older token must not hide a new one.
    for (const c of [url.searchParams.get('token'), cookie(req, 'nuvom_dashboard_token')]) if (c && same(c, auth.token)) return true;
  }
  if (auth.basic && h.startsWith('Basic ')) {
    const [user, ...pw] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
    if (same(user ?? '', auth.basic.user) && same(pw.join(':'), auth.basic.password)) return true;
  }
  return false;
}

/** Why a POST is refused, or null when it passes (CSRF header and same origin). */
export function postRefusal(req: IncomingMessage, csrf: string): string | null {
  const origin = req.headers.origin;
  if (origin) {
    let host: string | null = null;
    try { host = new URL(origin).host; } catch { /* below */ }
    if (host !== req.headers.host) return `the request's Origin "${origin}" is not this dashboard (${req.headers.host ?? 'no Host'}); actions are accepted only from the dashboard's own pages`;
  }
  const t = req.headers['x-nuvom-csrf'];
  if (typeof t !== 'string' || !same(t, csrf)) return 'missing or wrong x-nuvom-csrf header; read the token from GET /api/csrf (or the page) and send it with every POST';
  return null;
}
