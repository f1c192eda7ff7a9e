/**
 * Secrets masked in what nuvom prints or serves (`nuvom config`, the dashboard's settings): a value
 * under a key named like a token, password, secret, key or credential, or the password inside a URL
 * (postgres://user:PASSWORD@host/db), at any depth.
 * Must never: let any part of a secret through.
 */
export const SECRET_MASK = '********';
const SECRET_KEY = /token|passw(or)?d|pwd|secret|api[-_]?key|private[-_]?key|credential|auth/i;

/** URL schemes whose user part is a login name, never a token. */
const ROLE_USER = new Set(['postgres:', 'postgresql:']);

/** The value with its password replaced when it is a URL carrying credentials; else unchanged. */
function maskUrl(s: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(s)) return s;
  try {
    const u = new URL(s);
    if (!u.password && !u.username) return s;
    if (u.password) u.password = SECRET_MASK;
    // A lone user part is often the token itself (https://TOKEN@host); PostgreSQL's is the role,
    // which its error messages name too.
    else if (!ROLE_USER.has(u.protocol)) u.username = SECRET_MASK;
    return u.toString();
  } catch {
    return s.replace(/\/\/[^/]*@/, `//${SECRET_MASK}@`);
  }
}

/** A copy of `value` with every secret masked (by key name, or a URL's password). */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (key && SECRET_KEY.test(key) && value !== null && value !== undefined && value !== '' && typeof value !== 'boolean') return SECRET_MASK;
  if (typeof value === 'string') return maskUrl(value);
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  return value;
}
