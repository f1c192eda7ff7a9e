/**
 * What `nuvom doctor` reports: one finding per check, with a level, what was found and what to do.
 * Must never: print anything but the findings on stdout (logs go to stderr through the logger).
 */

export type Level = 'ok' | 'warn' | 'FAIL';

export interface Finding {
  /** A stable name: scripts pick findings out of `--json` by it. */
  check: string;
  level: Level;
  detail: string;
  /** What to do about it (warn and FAIL). */
  fix?: string;
  /** Machine-readable facts (counts, paths, job ids). */
  data?: Record<string, unknown>;
}

export function finding(check: string, level: Level, detail: string, fix?: string, data?: Record<string, unknown>): Finding {
  return { check, level, detail, ...(fix ? { fix } : {}), ...(data ? { data } : {}) };
}

/** `ok    sqlite-file: ...` / `warn  manifest: ...; fix: ...` */
export function formatLine(f: Finding): string {
  return `${f.level.padEnd(4)}  ${f.check}: ${f.detail}${f.fix ? `; fix: ${f.fix}` : ''}`;
}

export function formatJson(findings: Finding[]): string {
  return JSON.stringify({ ok: !findings.some((f) => f.level === 'FAIL'), checks: findings }, null, 2);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n < 1024 ** 4) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  return `${(n / 1024 ** 4).toFixed(1)} TB`;
}

/** The first few ids, for a one-line detail. */
export function someIds(ids: string[], n = 3): string {
  return ids.slice(0, n).join(', ') + (ids.length > n ? `, ... (${ids.length - n} more)` : '');
}
