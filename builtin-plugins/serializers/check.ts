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

/** Throws NUVOM_E_UNSERIALIZABLE naming the path of the first value the format cannot keep. */
export function assertSerializable(value: unknown, rules: CheckRules, root = 'value'): void {
  const seen = new Set<object>();
  const walk = (v: unknown, at: Array<string | number>): void => {
    const fail = (why: string) => {
      throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `${pathOf(at)} is ${why}, which the ${rules.name} serializer cannot store; pass plain data (strings, numbers, booleans, null, arrays, plain objects${rules.name === 'msgpack' ? ', Dates, Maps, Sets, Uint8Arrays, BigInts' : ''})`, { details: { path: pathOf(at) } });
    };
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') { if (!Number.isFinite(v) && rules.name === 'json') fail(`${v} (not finite)`); return; }
    if (typeof v === 'function' || typeof v === 'symbol') fail(describe(v));
    if (typeof v === 'bigint' || v === undefined) { if (!rules.accepts(v as bigint | undefined)) fail(describe(v)); return; }
    const obj = v as object;
    if (seen.has(obj)) fail('a circular reference');
    if (!rules.accepts(obj)) fail(describe(obj));
    seen.add(obj);
    if (Array.isArray(obj)) obj.forEach((x, i) => walk(x, [...at, i]));
    else if (obj instanceof Map) { for (const [k, x] of obj) { walk(k, [...at, `<key ${String(k)}>`]); walk(x, [...at, String(k)]); } }
    else if (obj instanceof Set) { let i = 0; for (const x of obj) walk(x, [...at, i++]); }
    else if (!(obj instanceof Date) && !ArrayBuffer.isView(obj)) {
      for (const k of Object.keys(obj)) walk((obj as Record<string, unknown>)[k], [...at, k]);
    }
    seen.delete(obj);
  };
  walk(value, [root]);
}
