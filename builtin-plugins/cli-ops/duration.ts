/**
 * Durations on the command line: '7d', '12h', '30m', '90s', '500ms', '2w', or a sum such as '1h30m'.
 * Must never: guess a unit (a bare number is refused: is '30' seconds or days?).
 */
import { NuvomError } from '../../sdk/plugin.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;

/** Milliseconds in `text`; a malformed duration is a usage error naming `flag` and the accepted forms. */
export function parseDuration(text: string, flag = 'duration'): number {
  const s = text.replace(/\s+/g, '').toLowerCase();
  let ms = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) { ms = NaN; break; }
    ms += Number(m[1]) * UNIT_MS[m[2]];
  }
  if (s === '' || !Number.isFinite(ms)) {
    throw new NuvomError('NUVOM_E_USAGE', `${flag} must be a duration such as 7d, 12h, 30m, 90s or 1h30m (units: w, d, h, m, s, ms), got "${text}"`);
  }
  return Math.round(ms);
}

/** A short human form of a span of milliseconds: '850ms', '42s', '3m 05s', '2h 10m', '3d 4h'. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const neg = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${neg}${Math.round(ms)}ms`;
  const secs = Math.floor(ms / 1000);
  if (secs < 60) return `${neg}${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (secs < 3600) return `${neg}${Math.floor(secs / 60)}m ${pad(secs % 60)}s`;
  if (secs < 86_400) return `${neg}${Math.floor(secs / 3600)}h ${pad(Math.floor(secs / 60) % 60)}m`;
  return `${neg}${Math.floor(secs / 86_400)}d ${Math.floor(secs / 3600) % 24}h`;
}

/** How long ago, in one unit: '5s ago', '3m ago', '2h ago', '4d ago' (a time in the future is '0s ago'). */
export function formatAge(ms: number): string {
  const secs = Math.max(0, Math.floor(ms / 1000));
  if (secs < 60) return `${secs}s ago`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m ago`;
  if (secs < 86_400) return `${Math.floor(secs / 3600)}h ago`;
  return `${Math.floor(secs / 86_400)}d ago`;
}
