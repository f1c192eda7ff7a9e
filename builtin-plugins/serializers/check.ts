/**
 * Finds the first value a serializer cannot carry (function, symbol, circular reference, ...) and
 * names its path, so a refused enqueue says exactly which argument is wrong.
 */
import { NuvomError } from '../../sdk/plugin.ts';

export interface CheckRules {
  /** Serializer name for the message. */
  name: string;
  /** Whether the format keeps a value of this kind (e.g. JSON cannot keep a Map or a BigInt). */
  accepts(value: object | bigint | undefined): boolean;
  /**
   * Whether strings must be well-formed UTF-16 (no lone surrogate): a format that writes strings as
   * UTF-8 (msgpack) would store U+FFFD in place of a lone surrogate, a changed value. JSON escapes it.
   */
  wellFormed?: boolean;
}

function describe(v: unknown): string {
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`;
  if (typeof v === 'symbol') return `a symbol (${String(v.description)})`;
  if (typeof v === 'bigint') return 'a BigInt';
  if (v === undefined) return 'undefined';
  const ctor = (v as object).constructor?.name;
  return ctor ? `a ${ctor}` : 'an object without a prototype';
}

function pathOf(parts: Array<string | number>): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join('');
}

/**
 * Throws NUVOM_E_UNSERIALIZABLE naming the path of the first value the format cannot keep.
 * Runs on every enqueued argument list, so the walk shares one path stack and one set of open
 * objects instead of allocating a path per value; the path becomes text only for the error.
 */
export function assertSerializable(value: unknown, rules: CheckRules, root = 'value'): void {
  if (value === null || (typeof value === 'string' && (!rules.wellFormed || isWellFormed(value))) || typeof value === 'boolean' || (typeof value === 'number' && (rules.name !== 'json' || Number.isFinite(value)))) return;
  walk(value, { rules, path: [root], open: new Set() });
}

/** String.prototype.isWellFormed (Node 20; not in the ES2022 lib this project compiles against). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** The code unit index of a string's first lone surrogate. */
function loneAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return i;
      i++;
    }
  }
  return -1;
}

function checkString(s: string, w: Walk, what = 'a string'): void {
  if (!w.rules.wellFormed || isWellFormed(s)) return;
  const i = loneAt(s);
  fail(w, `${what} with a lone surrogate (\\u${s.charCodeAt(i).toString(16)} at index ${i}, half of a character pair: text cut in the middle of an emoji, say); it would be stored as U+FFFD`);
}

interface Walk { rules: CheckRules; path: Array<string | number>; open: Set<object> }

function fail(w: Walk, why: string): never {
  const at = pathOf(w.path);
  throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${at} is ${why}, which the ${w.rules.name} serializer cannot store; pass plain data (strings, numbers, booleans, null, arrays, plain objects${w.rules.name === 'msgpack' ? ', Dates, Maps, Sets, Uint8Arrays, BigInts' : ''})`, { details: { path: at } });
}

function walk(v: unknown, w: Walk): void {
  if (typeof v === 'string') { checkString(v, w); return; }
  if (v === null || typeof v === 'boolean') return;
  if (typeof v === 'number') { if (!Number.isFinite(v) && w.rules.name === 'json') fail(w, `${v} (not finite)`); return; }
  if (typeof v === 'function' || typeof v === 'symbol') fail(w, describe(v));
  if (typeof v === 'bigint' || v === undefined) { if (!w.rules.accepts(v as bigint | undefined)) fail(w, describe(v)); return; }
  const obj = v as object;
  if (w.open.has(obj)) fail(w, 'a circular reference');
  if (!w.rules.accepts(obj)) fail(w, describe(obj));
  w.open.add(obj);
  const path = w.path;
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) { path.push(i); walk(obj[i], w); path.pop(); }
  } else if (obj instanceof Map) {
    for (const [k, x] of obj) {
      path.push(`<key ${String(k)}>`); walk(k, w); path.pop();
      path.push(String(k)); walk(x, w); path.pop();
    }
  } else if (obj instanceof Set) {
    let i = 0;
    for (const x of obj) { path.push(i++); walk(x, w); path.pop(); }
  } else if (!(obj instanceof Date) && !ArrayBuffer.isView(obj)) {
    for (const k in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
      path.push(k);
      checkString(k, w, 'a key');
      walk((obj as Record<string, unknown>)[k], w);
      path.pop();
    }
  }
  w.open.delete(obj);
}
