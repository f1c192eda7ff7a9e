/**
 * Output helpers for CLI commands, built-in or third-party (`cliFormat` in `nuvom/plugin`): tables
 * that fit the terminal, key/value blocks, colours, and JSON that never throws on the values a serializer can hand back (BigInt, bytes, Map, Set).
 * Must never: write colour codes when NO_COLOR is set or stdout is not a terminal (FORCE_COLOR aside),
 * or write anything but data to stdout.
 */
import type { JobStatus } from '../kernel/index.ts';

export function out(s = ''): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** Colour when stdout is a terminal (or FORCE_COLOR asks for it), never when NO_COLOR is set (no-color.org). */
export function useColor(env: Readonly<Record<string, string | undefined>> = process.env, stream: { isTTY?: boolean } = process.stdout): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** The terminal's width; off a terminal, $COLUMNS when set, else unlimited (pipes get whole cells). */
export function termWidth(env: Readonly<Record<string, string | undefined>> = process.env, stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  if (stream.isTTY && stream.columns && stream.columns > 0) return stream.columns;
  const n = Number(env.COLUMNS);
  return Number.isInteger(n) && n > 0 ? n : Infinity;
}

export interface Paint {
  readonly on: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  status(s: string, status: string): string;
}

const sgr = (on: boolean, open: number, close: number) => (s: string) => (on && s ? `\x1b[${open}m${s}\x1b[${close}m` : s);

export function paint(on = useColor()): Paint {
  const STATUS: Record<JobStatus, (s: string) => string> = {
    PENDING: sgr(on, 34, 39), RUNNING: sgr(on, 36, 39), RETRYING: sgr(on, 33, 39),
    SUCCESS: sgr(on, 32, 39), FAILED: sgr(on, 31, 39), CANCELLED: sgr(on, 2, 22),
  };
  return {
    on,
    bold: sgr(on, 1, 22),
    dim: sgr(on, 2, 22),
    red: sgr(on, 31, 39),
    status: (s, status) => (STATUS[status as JobStatus] ?? ((x: string) => x))(s),
  };
}

/** One line, no control characters (a cell must not move the cursor or break the table). */
export function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\s*\r?\n\s*/g, ' ').replace(/[\x00-\x1f\x7f]/g, ' ');
}

/** `s` cut to `width` characters, the last one an ellipsis when anything was cut. */
export function truncate(s: string, width: number): string {
  if (s.length <= width) return s;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  let cut = width - 1;
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--; // never split a surrogate pair
  return `${s.slice(0, cut)}…`;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Columns with `shrink` give up width when the table is too wide, lowest number first. */
  shrink?: number;
  /** The narrowest a shrinking column gets while that is enough (default 6); never under 3. */
  min?: number;
  /** Colours a padded cell; `value` is the cell before truncation. */
  color?: (padded: string, value: string) => string;
}

const GAP = '  ';

/** A table with a header row, fitted to `width` by shrinking columns in their `shrink` order. */
export function table(cols: Column[], rows: string[][], opts: { width?: number; paint?: Paint } = {}): string {
  const width = opts.width ?? termWidth();
  const p = opts.paint ?? paint();
  const cells = rows.map((r) => cols.map((_, i) => oneLine(r[i] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  let excess = widths.reduce((a, b) => a + b, 0) + GAP.length * (cols.length - 1) - width;
  const order = cols.map((_, i) => i).filter((i) => cols[i].shrink !== undefined).sort((a, b) => cols[a].shrink! - cols[b].shrink!);
  // First down to each column's `min`, then, when that is not enough, down to 3 characters.
  for (const floor of [(i: number) => Math.max(3, cols[i].min ?? 6), () => 3]) {
    for (const i of order) {
      if (excess <= 0) break;
      const cut = Math.min(excess, Math.max(0, widths[i] - floor(i)));
      widths[i] -= cut;
      excess -= cut;
    }
  }
  const last = cols.length - 1;
  const line = (row: string[], header: boolean) => row.map((value, i) => {
    const t = truncate(value, widths[i]);
    const padded = cols[i].align === 'right' ? t.padStart(widths[i]) : i === last ? t : t.padEnd(widths[i]);
    if (header) return p.bold(padded);
    return cols[i].color ? cols[i].color!(padded, value) : padded;
  }).join(GAP);
  return [line(cols.map((c) => c.header), true), ...cells.map((r) => line(r, false))].map((l) => l.trimEnd()).join('\n');
}

/** `key  value` lines; a multi-line value continues under its first line. */
export function keyValues(pairs: Array<[string, string]>, p: Paint = paint()): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => {
    const [first, ...rest] = v.split('\n');
    return [`${p.bold(k.padEnd(w))}  ${first}`, ...rest.map((l) => `${' '.repeat(w + 2)}${l}`)].join('\n').trimEnd();
  }).join('\n');
}

/**
 * JSON for any value a serializer decodes: BigInt as a decimal string, bytes as { "$bytes": base64 },
 * Map as an object (or [key, value] pairs when a key is not a string), Set as an array.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key]; // before toJSON: a Buffer would arrive as { type, data }
    if (typeof raw === 'bigint') return raw.toString();
    // JSON has no Infinity or NaN (JSON.stringify writes null): as text, like a BigInt.
    if (typeof raw === 'number' && !Number.isFinite(raw)) return String(raw);
    if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
    if (raw instanceof Map) return [...raw.keys()].every((k) => typeof k === 'string') ? Object.fromEntries(raw) : [...raw.entries()];
    if (raw instanceof Set) return [...raw];
    return v;
  }, indent) ?? 'null';
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
