/**
 * Reading an oxc AST without running anything: literal values, literal arrays and objects, property
 * keys, a pruned traversal, and offset -> line:column.
 * Must never: evaluate identifiers, calls or any expression whose value depends on running code.
 */
import type { Expression, Node, PropertyKey } from 'oxc-parser';
import type { StaticValue } from './types.ts';

/** Marks "not a literal": distinct from every StaticValue, `null` included. */
export const NOT_STATIC: unique symbol = Symbol('not static');

type Wrapped = Node & { expression: Expression };
const WRAPPERS = new Set(['TSAsExpression', 'TSSatisfiesExpression', 'TSNonNullExpression', 'TSTypeAssertion', 'ParenthesizedExpression']);

/** Strips `as T`, `satisfies T`, `x!`, `<T>x` and parentheses, which do not change the value. */
export function unwrap<T extends Node | null | undefined>(node: T): T {
  let n: Node | null | undefined = node;
  while (n && WRAPPERS.has(n.type)) n = (n as Wrapped).expression;
  return n as T;
}

/** The value of a literal expression, or NOT_STATIC. Arrays and objects count only when fully literal. */
export function staticValue(input: Node | null | undefined): StaticValue | typeof NOT_STATIC {
  const node = unwrap(input);
  if (!node) return NOT_STATIC;
  switch (node.type) {
    case 'Literal': {
      const v = (node as { value: unknown }).value;
      if (typeof v === 'string' || typeof v === 'boolean' || v === null) return 'regex' in node && node.regex ? NOT_STATIC : v;
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      return NOT_STATIC;
    }
    case 'UnaryExpression': {
      if (node.operator !== '-' && node.operator !== '+') return NOT_STATIC;
      const v = staticValue(node.argument);
      if (typeof v !== 'number') return NOT_STATIC;
      return node.operator === '-' ? -v : v;
    }
    case 'TemplateLiteral':
      return node.expressions.length === 0 && node.quasis[0]?.value.cooked != null ? node.quasis[0].value.cooked : NOT_STATIC;
    case 'ArrayExpression': {
      const out: StaticValue[] = [];
      for (const el of node.elements) {
        if (!el || el.type === 'SpreadElement') return NOT_STATIC;
        const v = staticValue(el);
        if (v === NOT_STATIC) return NOT_STATIC;
        out.push(v);
      }
      return out;
    }
    case 'ObjectExpression': {
      const out: Record<string, StaticValue> = {};
      for (const p of node.properties) {
        if (p.type === 'SpreadElement' || p.kind !== 'init' || p.method) return NOT_STATIC;
        const key = propertyName(p.key, p.computed);
        const v = staticValue(p.value);
        if (key === null || v === NOT_STATIC) return NOT_STATIC;
        out[key] = v;
      }
      return out;
    }
    default:
      return NOT_STATIC;
  }
}

/** The static name of a property or method key (`a`, `'a'`, `['a']`, `1`), or null when computed. */
export function propertyName(key: PropertyKey, computed: boolean): string | null {
  if (key.type === 'Identifier' && !computed) return key.name;
  if (key.type === 'PrivateIdentifier') return `#${key.name}`;
  const v = staticValue(key as Expression);
  return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
}

const SKIP_KEYS = new Set(['type', 'start', 'end', 'parent', 'range', 'loc']);

/**
 * Calls `visit` on every node whose span holds one of `offsets`, outermost first, and descends
 * only into those: far cheaper than a full traversal, since most of a file never mentions `task`.
 */
/** `visit` returning false keeps the walk out of that node's children (a scope that shadows a name). */
export function visitCovering(node: Node, offsets: readonly number[], visit: (n: Node) => boolean | void): void {
  const covers = (n: Node) => {
    let lo = 0;
    let hi = offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid] < n.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < offsets.length && offsets[lo] < n.end;
  };
  const child = (v: unknown) => {
    if (v && typeof v === 'object' && typeof (v as Node).type === 'string' && covers(v as Node)) {
      if (visit(v as Node) !== false) visitCovering(v as Node, offsets, visit);
    }
  };
  for (const key in node) {
    if (SKIP_KEYS.has(key)) continue;
    const v = (node as unknown as Record<string, unknown>)[key];
    if (Array.isArray(v)) for (const el of v) child(el);
    else child(v);
  }
}

/** Maps source offsets (UTF-16, as oxc-parser reports them) to 1-based line and column. */
export class LineIndex {
  private starts: number[] | null = null;

  constructor(private readonly source: string) {}

  at(offset: number): { line: number; column: number } {
    const starts = (this.starts ??= lineStarts(this.source));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo] + 1 };
  }
}

function lineStarts(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13 && source.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}
