/**
 * What a module's top level says about tasks: which local names are nuvom's `task` (named, aliased,
 * namespace or `require`d), which locals hold functions and under which names things are exported
 * (ESM and CommonJS). The scanner asks it whether a call is a task call and what it is exported as.
 * Must never: look inside functions; only top-level bindings can be imported by a worker.
 */
import type { Declaration, Expression, Program } from 'oxc-parser';
import { NOT_STATIC, propertyName, staticValue, unwrap } from './static-values.ts';

export const NUVOM = 'nuvom';

export class ModuleBindings {
  readonly taskIds = new Set<string>();
  readonly namespaceIds = new Set<string>();
  /** Local binding -> the runtime `.name` of the function it holds. */
  readonly fnNames = new Map<string, string>();
  /**
   * Local binding -> the function node it surely holds: a function declaration, or a `const` whose
   * initialiser is a function (a `let` or `var` may be reassigned, so its parameters are not known).
   */
  readonly fnNodes = new Map<string, { params: unknown[] }>();
  /** Start offset of a top-level (unwrapped) initialiser or class node -> its local binding. */
  readonly atLocal = new Map<number, string>();
  private readonly overloaded = new Set<string>();
  /** Local binding -> the first name it is exported under. */
  private readonly localExport = new Map<string, string>();
  /** Start offset of an expression exported directly (export default ..., exports.x = ...). */
  private readonly exportAt = new Map<number, string>();

  constructor(program: Program) {
    for (const stmt of program.body) this.topLevel(stmt);
  }

  /** Whether anything in the module can refer to nuvom's task. */
  get importsTask(): boolean {
    return this.taskIds.size > 0 || this.namespaceIds.size > 0;
  }

  /** Sorted offsets of every mention of a `task` or namespace binding: the only places a task can be. */
  mentions(source: string): number[] {
    const names = [...this.taskIds, ...this.namespaceIds].map((n) => n.replace(/[$]/g, '\\$&'));
    const re = new RegExp(`(?<![\\w$])(?:${names.join('|')})(?![\\w$])`, 'g');
    const out: number[] = [];
    for (let m = re.exec(source); m; m = re.exec(source)) out.push(m.index);
    return out;
  }

  exportOf(at: number): string | undefined {
    const direct = this.exportAt.get(at);
    if (direct !== undefined) return direct;
    const local = this.atLocal.get(at);
    return local === undefined ? undefined : this.localExport.get(local);
  }

  /**
   * Whether a function rebinds one of the `task` / namespace names: as a parameter, or declared at
   * the top of its body (`const task = ...`, `function task() {}`). Calls inside then are not nuvom's.
   */
  shadowedIn(fn: FunctionLike): boolean {
    const ours = (name: string) => this.taskIds.has(name) || this.namespaceIds.has(name);
    for (const p of fn.params ?? []) if (boundNames(p).some(ours)) return true;
    const body = fn.body as { type?: string; body?: unknown[] } | null | undefined;
    if (body?.type !== 'BlockStatement' && body?.type !== 'FunctionBody') return false;
    for (const stmt of (body.body ?? []) as Array<{ type: string; id?: { name?: string }; declarations?: Array<{ id: unknown }> }>) {
      if (stmt.type === 'FunctionDeclaration' && stmt.id?.name && ours(stmt.id.name)) return true;
      if (stmt.type === 'VariableDeclaration' && stmt.declarations?.some((d) => boundNames(d.id).some(ours))) return true;
    }
    return false;
  }

  isTaskRef(expr: Expression): boolean {
    const e = unwrap(expr);
    if (e.type === 'Identifier') return this.taskIds.has(e.name);
    if (e.type !== 'MemberExpression') return false;
    const obj = unwrap(e.object);
    if (obj.type !== 'Identifier' || !this.namespaceIds.has(obj.name)) return false;
    return e.computed ? staticValue(e.property) === 'task' : e.property.type === 'Identifier' && e.property.name === 'task';
  }

  private topLevel(stmt: Program['body'][number]): void {
    switch (stmt.type) {
      case 'ImportDeclaration':
        if (stmt.source.value !== NUVOM || stmt.importKind === 'type') return;
        for (const s of stmt.specifiers) {
          if (s.type === 'ImportNamespaceSpecifier') this.namespaceIds.add(s.local.name);
          else if (s.type === 'ImportSpecifier' && s.importKind !== 'type' && moduleName(s.imported) === 'task') this.taskIds.add(s.local.name);
        }
        return;
      case 'ExportNamedDeclaration':
        if (stmt.exportKind === 'type') return;
        if (stmt.declaration) this.declare(stmt.declaration, true);
        if (stmt.source) return;
        for (const s of stmt.specifiers) {
          const local = moduleName(s.local);
          if (s.exportKind !== 'type' && !this.localExport.has(local)) this.localExport.set(local, moduleName(s.exported));
        }
        return;
      case 'ExportDefaultDeclaration': {
        const d = unwrap(stmt.declaration as Expression);
        if (d.type === 'Identifier') {
          if (!this.localExport.has(d.name)) this.localExport.set(d.name, 'default');
          return;
        }
        if ((d.type === 'FunctionDeclaration' || d.type === 'ClassDeclaration') && d.id) this.declare(d as Declaration, false);
        this.exportAt.set(d.start, 'default');
        return;
      }
      case 'ExpressionStatement':
        return this.commonJsExport(unwrap(stmt.expression));
      case 'VariableDeclaration':
      case 'FunctionDeclaration':
      case 'TSDeclareFunction':
      case 'ClassDeclaration':
        return this.declare(stmt as Declaration, false);
      default:
    }
  }

  private declare(decl: Declaration, exported: boolean): void {
    const names: string[] = [];
    if (decl.type === 'VariableDeclaration') {
      for (const d of decl.declarations) {
        const init = unwrap(d.init);
        if (d.id.type === 'ObjectPattern' && init && isRequireNuvom(init)) {
          for (const p of d.id.properties) {
            if (p.type === 'Property' && propertyName(p.key, p.computed) === 'task' && p.value.type === 'Identifier') this.taskIds.add(p.value.name);
          }
        }
        if (d.id.type !== 'Identifier') continue;
        const name = d.id.name;
        names.push(name);
        if (!init) continue;
        this.bind(name, init.start);
        if (isRequireNuvom(init)) this.namespaceIds.add(name);
        else if (init.type === 'ArrowFunctionExpression') this.fnNames.set(name, name);
        else if (init.type === 'FunctionExpression') this.fnNames.set(name, init.id?.name ?? name);
        if ((init.type === 'ArrowFunctionExpression' || init.type === 'FunctionExpression') && decl.kind === 'const') this.fnNodes.set(name, init);
      }
    } else if (decl.type === 'FunctionDeclaration' && decl.id) {
      this.fnNames.set(decl.id.name, decl.id.name);
      // Callers of an overloaded function see its overloads, not the implementation's parameters.
      if (!this.overloaded.has(decl.id.name)) this.fnNodes.set(decl.id.name, decl);
      else this.fnNodes.delete(decl.id.name);
      names.push(decl.id.name);
    } else if (isOverloadSignature(decl)) {
      // `function f(a: number): void;`: the function is left unchecked.
      this.overloaded.add(decl.id.name);
      this.fnNodes.delete(decl.id.name);
    } else if (decl.type === 'ClassDeclaration' && decl.id) {
      this.bind(decl.id.name, decl.start);
      names.push(decl.id.name);
    }
    if (exported) for (const n of names) if (!this.localExport.has(n)) this.localExport.set(n, n);
  }

  private bind(local: string, at: number): void {
    this.atLocal.set(at, local);
  }

  /** `exports.x = ...`, `module.exports.x = ...`, `module.exports = ...` in CommonJS files. */
  private commonJsExport(e: Expression): void {
    if (e.type !== 'AssignmentExpression' || e.operator !== '=' || e.left.type !== 'MemberExpression') return;
    const name = commonJsTarget(e.left);
    if (name === null) return;
    const right = unwrap(e.right);
    if (right.type === 'Identifier') {
      if (!this.localExport.has(right.name)) this.localExport.set(right.name, name);
    } else if (name === 'default' && right.type === 'ObjectExpression') {
      for (const p of right.properties) {
        const key = p.type === 'Property' ? propertyName(p.key, p.computed) : null;
        const value = p.type === 'Property' ? unwrap(p.value) : null;
        if (key !== null && value?.type === 'Identifier' && !this.localExport.has(value.name)) this.localExport.set(value.name, key);
        else if (key !== null && value) this.exportAt.set(value.start, key);
      }
    } else {
      this.exportAt.set(right.start, name);
    }
  }
}

function isOverloadSignature(d: { type: string }): d is { type: 'TSDeclareFunction'; id: { name: string } } {
  return d.type === 'TSDeclareFunction' && typeof (d as { id?: { name?: unknown } }).id?.name === 'string';
}

function moduleName(n: { type: string; name?: string; value?: unknown }): string {
  return n.type === 'Identifier' ? (n.name as string) : String(n.value);
}

function isRequireNuvom(e: Expression): boolean {
  return e.type === 'CallExpression' && e.callee.type === 'Identifier' && e.callee.name === 'require'
    && e.arguments.length === 1 && staticValue(e.arguments[0] as Expression) === NUVOM;
}

function commonJsTarget(left: Expression): string | null {
  const m = unwrap(left);
  if (m.type !== 'MemberExpression') return null;
  const isModule = (x: Expression) => x.type === 'Identifier' && x.name === 'module';
  const prop = m.computed ? staticValue(m.property) : m.property.type === 'Identifier' ? m.property.name : null;
  if (typeof prop !== 'string') return null;
  const obj = unwrap(m.object);
  if (isModule(obj) && prop === 'exports') return 'default';
  if (obj.type === 'Identifier' && obj.name === 'exports') return prop;
  if (obj.type === 'MemberExpression' && !obj.computed && isModule(unwrap(obj.object))
    && obj.property.type === 'Identifier' && obj.property.name === 'exports') return prop;
  return null;
}

/** A function node as far as shadowing goes: its parameters and body. */
export interface FunctionLike { params?: unknown[]; body?: unknown }

/** The names a parameter or declaration pattern binds (identifiers, defaults, rest, destructuring). */
function boundNames(p: unknown): string[] {
  const n = p as { type?: string; name?: string; left?: unknown; argument?: unknown; properties?: Array<{ value?: unknown; argument?: unknown }>; elements?: unknown[]; pattern?: unknown; parameter?: unknown } | null;
  if (!n || typeof n !== 'object') return [];
  switch (n.type) {
    case 'Identifier': return n.name ? [n.name] : [];
    case 'AssignmentPattern': return boundNames(n.left);
    case 'RestElement': return boundNames(n.argument);
    case 'TSParameterProperty': return boundNames(n.parameter);
    case 'ObjectPattern': return (n.properties ?? []).flatMap((q) => boundNames(q.value ?? q.argument));
    case 'ArrayPattern': return (n.elements ?? []).flatMap(boundNames);
    default: return [];
  }
}
