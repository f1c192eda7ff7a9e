/**
 * Reads a task function's parameters from its syntax tree: names, written type annotations, optional
 * and defaulted parameters and a rest parameter, so the manifest can say how a task must be called.
 * Must never: infer a type that is not written, or evaluate a default value (its text is kept).
 */
import type { Node } from 'oxc-parser';
import type { TaskParam, TaskSignature } from '../../sdk/plugin.ts';

type Param = Node & {
  name?: string;
  optional?: boolean;
  typeAnnotation?: { typeAnnotation: Node } | null;
  left?: Param;
  right?: Node;
  argument?: Param;
  parameter?: Param;
};

const LONGEST = 60;

/** The signature of a function node (declaration, expression, arrow or method value). */
export function readSignature(fn: { params: unknown[] }, source: string): TaskSignature {
  const text = (n: Node) => {
    const s = source.slice(n.start, n.end).replace(/\s+/g, ' ').trim();
    return s.length > LONGEST ? `${s.slice(0, LONGEST - 3)}...` : s;
  };
  const params: TaskParam[] = [];
  let required = 0;
  for (const raw of fn.params as Param[]) {
    let p = raw;
    if (p.type === 'TSParameterProperty' && p.parameter) p = p.parameter;
    // TypeScript's `this: T` is not an argument.
    if (p.type === 'Identifier' && p.name === 'this') continue;
    const out: TaskParam = { name: '' };
    let target = p;
    if (p.type === 'RestElement' && p.argument) {
      out.rest = true;
      target = p.argument;
    } else if (p.type === 'AssignmentPattern' && p.left && p.right) {
      out.optional = true;
      out.default = text(p.right);
      target = p.left;
    }
    out.name = target.type === 'Identifier' && target.name ? target.name : text(withoutType(target, source));
    const annotation = p.typeAnnotation ?? target.typeAnnotation;
    if (annotation) out.type = text(annotation.typeAnnotation);
    if (target.optional) out.optional = true;
    params.push(sorted(out));
    if (!out.optional && !out.rest) required = params.length;
  }
  return { params, required };
}

/** A destructuring pattern's span without its `: Type`, so `{ a, b }: Opts` names itself `{ a, b }`. */
function withoutType(n: Param, source: string): Node {
  const ann = n.typeAnnotation;
  if (!ann) return n;
  // The annotation follows the pattern: the pattern's own text ends where `:` begins.
  return { ...n, end: lastNonSpaceBefore(source, ann.typeAnnotation.start, n.start) } as Node;
}

function lastNonSpaceBefore(source: string, at: number, floor: number): number {
  let i = at;
  while (i > floor && /[\s:]/.test(source[i - 1])) i--;
  return i;
}

/** Keys in one order (name, type, optional, default, rest), so the manifest's JSON is stable. */
function sorted(p: TaskParam): TaskParam {
  const out: TaskParam = { name: p.name };
  if (p.type !== undefined) out.type = p.type;
  if (p.optional) out.optional = true;
  if (p.default !== undefined) out.default = p.default;
  if (p.rest) out.rest = true;
  return out;
}
