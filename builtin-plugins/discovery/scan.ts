/**
 * Finds the tasks one source file defines, by parsing it with oxc-parser: `task(...)` calls and
 * `@task` method decorators whose `task` is imported from "nuvom", their names, exports and literal
 * options. What cannot be known statically (a computed name, an unexported task) becomes a problem
 * saying how to fix it.
 * Must never: run, import or require user code; report a task under a name it only guessed.
 */
import { parseSync, type EcmaScriptModule } from 'oxc-parser';
import type {
  Argument, CallExpression, Class, Decorator, Declaration, Expression, MethodDefinition, Node, ObjectExpression, Program,
} from 'oxc-parser';
import { LineIndex, NOT_STATIC, propertyName, staticValue, unwrap } from './static-values.ts';
import type { Problem, ScanResult, StaticValue, TaskEntry } from './types.ts';

const NUVOM = 'nuvom';
const FIX = "give it a literal name: task({ name: 'x' }, ...)";

/** Cheap pre-check: a file that never mentions "nuvom" cannot import `task` from it. */
export function mightDefineTasks(source: string): boolean {
  return source.includes(NUVOM);
}

/** Scans one file's source. `file` is reported as given (discovery passes root-relative paths). */
export function scanFile(file: string, source: string): ScanResult {
  if (!mightDefineTasks(source)) return { tasks: [], problems: [] };
  const lines = new LineIndex(source);
  const parsed = parse(file, source);
  const errors = parsed.errors.filter((e) => e.severity === 'Error');
  if (errors.length) {
    return {
      tasks: [],
      problems: errors.map((e) => ({
        file, ...lines.at(e.labels[0]?.start ?? 0),
        message: `syntax error: ${e.message}${e.helpMessage ? ` (${e.helpMessage})` : ''}; tasks in this file are skipped until it parses`,
      })),
    };
  }
  // Decide from the import table, before the AST is deserialized (the costly part of a parse).
  if (!importsTask(parsed.module, source)) return { tasks: [], problems: [] };
  return new FileScan(file, source, lines, parsed.program).run();
}

function importsTask(module: EcmaScriptModule, source: string): boolean {
  for (const imp of module.staticImports) {
    if (imp.moduleRequest.value !== NUVOM) continue;
    for (const e of imp.entries) {
      const kind = e.importName.kind as string;
      if (!e.isType && (kind === 'NamespaceObject' || (kind === 'Name' && e.importName.name === 'task'))) return true;
    }
  }
  return /\brequire\s*\(/.test(source);
}

function parse(file: string, source: string) {
  const first = parseSync(file, source);
  // Plain .js files may hold JSX (React projects); oxc only allows it for .jsx/.tsx, so retry once.
  if (first.errors.length && /\.[cm]?js$/.test(file)) {
    const jsx = parseSync(file, source, { lang: 'jsx', sourceType: first.program.sourceType === 'commonjs' ? 'commonjs' : 'module' });
    if (!jsx.errors.length) return jsx;
  }
  return first;
}

type Site = { at: number; name: string | null; problem: { at: number; message: string } | null; options: Record<string, StaticValue> };

class FileScan {
  private readonly taskIds = new Set<string>();
  private readonly namespaceIds = new Set<string>();
  /** Local binding -> the runtime `.name` of the function it holds. */
  private readonly fnNames = new Map<string, string>();
  /** Local binding -> start offset of its (unwrapped) initialiser or class node, and back. */
  private readonly localAt = new Map<string, number>();
  private readonly atLocal = new Map<number, string>();
  /** Local binding -> the first name it is exported under. */
  private readonly localExport = new Map<string, string>();
  /** Start offset of an expression exported directly (export default ..., exports.x = ...). */
  private readonly exportAt = new Map<number, string>();
  private readonly tasks: TaskEntry[] = [];
  private readonly problems: Problem[] = [];

  constructor(
    private readonly file: string,
    private readonly source: string,
    private readonly lines: LineIndex,
    private readonly program: Program,
  ) {}

  run(): ScanResult {
    for (const stmt of this.program.body) this.topLevel(stmt);
    if (this.taskIds.size === 0 && this.namespaceIds.size === 0) return { tasks: [], problems: [] };
    const calls: CallExpression[] = [];
    const decorated: Array<{ cls: Class; method: MethodDefinition; dec: Decorator; call: CallExpression | null }> = [];
    const decoratorCalls = new Set<number>();
    const onClass = (cls: Class) => {
      for (const el of cls.body.body) {
        if (el.type !== 'MethodDefinition' && el.type !== 'TSAbstractMethodDefinition') continue;
        for (const dec of el.decorators) {
          const e = unwrap(dec.expression);
          if (this.isTaskRef(e)) decorated.push({ cls, method: el, dec, call: null });
          else if (e.type === 'CallExpression' && this.isTaskRef(e.callee)) {
            decorated.push({ cls, method: el, dec, call: e });
            decoratorCalls.add(e.start);
          }
        }
      }
    };
    visitCovering(this.program, this.mentions(), (n) => {
      if (n.type === 'CallExpression' && this.isTaskRef(n.callee)) calls.push(n);
      else if (n.type === 'ClassDeclaration' || n.type === 'ClassExpression') onClass(n);
    });

    for (const call of calls) {
      if (decoratorCalls.has(call.start)) continue;
      this.accept(this.callSite(call), this.exportOf(call.start), call.start, null, null);
    }
    for (const { cls, method, dec, call } of decorated) {
      const methodName = propertyName(method.key, method.computed);
      const site = this.readOptions(call?.arguments[0] ?? null, dec.start);
      if (site.name === null && !site.problem) {
        if (methodName !== null) site.name = methodName;
        else site.problem = { at: method.key.start, message: `the decorated method's name is computed, so discovery cannot know the task's name; ${FIX}` };
      }
      this.accept(site, this.exportOf(cls.start), dec.start, methodName ?? undefined, cls);
    }
    this.tasks.sort((a, b) => a.line - b.line);
    this.problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { tasks: this.tasks, problems: this.problems };
  }

  private accept(site: Site, exported: string | undefined, at: number, method: string | undefined | null, cls: Class | null): void {
    if (site.problem) return this.problem(site.problem.at, site.problem.message);
    const name = site.name as string;
    if (exported === undefined) {
      const local = this.atLocal.get(cls ? cls.start : at);
      const how = cls
        ? `export its class${cls.id ? ` (export class ${cls.id.name} { ... })` : ''}`
        : local
          ? `export it: export const ${local} = task(...)`
          : `define it at the module's top level and export it: export const ${identifier(name)} = task(...)`;
      return this.problem(at, `task "${name}" is not exported, so a worker cannot load it; ${how}`);
    }
    const entry: TaskEntry = { name, file: this.file, export: exported, line: this.lines.at(at).line, options: site.options };
    if (method) entry.method = method;
    this.tasks.push(entry);
  }

  private problem(at: number, message: string): void {
    this.problems.push({ file: this.file, ...this.lines.at(at), message });
  }

  /** Name and options of `task(fn)` / `task(options, fn)`. */
  private callSite(call: CallExpression): Site {
    const args = call.arguments;
    if (args.some((a) => a.type === 'SpreadElement')) {
      return { at: call.start, name: null, options: {}, problem: { at: call.start, message: `task() is called with spread arguments, so discovery cannot know the task's name; ${FIX}` } };
    }
    let optionsNode: Argument | null = null;
    let fnNode: Expression | null = null;
    if (args.length >= 2) [optionsNode, fnNode] = [args[0], args[1] as Expression];
    else if (args.length === 1 && unwrap(args[0] as Expression).type === 'ObjectExpression') optionsNode = args[0];
    else if (args.length === 1) fnNode = args[0] as Expression;
    const site = this.readOptions(optionsNode, call.start);
    if (!fnNode && !site.problem) site.problem = { at: call.start, message: "task() needs a function: task(fn) or task({ name: 'x' }, fn)" };
    if (site.name !== null || site.problem || !fnNode) return site;
    const fn = unwrap(fnNode);
    if (fn.type === 'FunctionExpression' && fn.id) site.name = fn.id.name;
    else if (fn.type === 'Identifier' && this.fnNames.has(fn.name)) site.name = this.fnNames.get(fn.name) as string;
    else if (fn.type === 'Identifier') {
      site.problem = { at: fn.start, message: `the task's name would come from \`${fn.name}\`, which is not a function declared in this module, so discovery cannot know it; give it a literal name: task({ name: '${fn.name}' }, ${fn.name})` };
    } else if (fn.type === 'ArrowFunctionExpression' || fn.type === 'FunctionExpression') {
      site.problem = { at: fn.start, message: `the task has no name: its function is anonymous and there is no name option; ${FIX}, or pass a named function` };
    } else {
      site.problem = { at: fn.start, message: `the task's function is computed (${this.text(fn)}), so discovery cannot know its name; ${FIX}` };
    }
    return site;
  }

  /** Reads the literal options; `name` is set only from a string literal that nothing can override. */
  private readOptions(node: Argument | null, at: number): Site {
    const site: Site = { at, name: null, problem: null, options: {} };
    if (!node) return site;
    const obj = unwrap(node as Expression);
    if (obj.type !== 'ObjectExpression') {
      site.problem = { at: obj.start, message: `the task's options are not an object literal (${this.text(obj)}), so discovery cannot know its name; give it a literal name: task({ ...options, name: 'x' }, ...)` };
      return site;
    }
    let nameOpen: Node | null = null;
    for (const p of (obj as ObjectExpression).properties) {
      const key = p.type === 'SpreadElement' ? null : propertyName(p.key, p.computed);
      if (p.type === 'SpreadElement' || key === null) {
        nameOpen = p;
        site.name = null;
        continue;
      }
      if (p.kind !== 'init' || p.method) {
        if (key === 'name') nameOpen = p;
        continue;
      }
      const value = staticValue(p.value);
      if (key === 'name') {
        if (typeof value !== 'string' || value === '') {
          site.problem = { at: p.value.start, message: `the task name is not a literal string (name: ${this.text(p.value)}), so discovery cannot know it without running code; ${FIX}` };
          return site;
        }
        site.name = value;
        nameOpen = null;
      } else if (value !== NOT_STATIC) {
        site.options[key] = value;
      }
    }
    if (nameOpen) {
      site.problem = { at: nameOpen.start, message: `the task's options spread or compute keys (${this.text(nameOpen)}) that may set its name; put a literal name after them: task({ ...options, name: 'x' }, ...)` };
    }
    return site;
  }

  /** Sorted offsets of every mention of a `task` or namespace binding: the only places a task can be. */
  private mentions(): number[] {
    const names = [...this.taskIds, ...this.namespaceIds].map((n) => n.replace(/[$]/g, '\\$&'));
    const re = new RegExp(`(?<![\\w$])(?:${names.join('|')})(?![\\w$])`, 'g');
    const out: number[] = [];
    for (let m = re.exec(this.source); m; m = re.exec(this.source)) out.push(m.index);
    return out;
  }

  private exportOf(at: number): string | undefined {
    const direct = this.exportAt.get(at);
    if (direct !== undefined) return direct;
    const local = this.atLocal.get(at);
    return local === undefined ? undefined : this.localExport.get(local);
  }

  private isTaskRef(expr: Expression): boolean {
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
      case 'ClassDeclaration':
        return this.declare(stmt, false);
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
      }
    } else if (decl.type === 'FunctionDeclaration' && decl.id) {
      this.fnNames.set(decl.id.name, decl.id.name);
      names.push(decl.id.name);
    } else if (decl.type === 'ClassDeclaration' && decl.id) {
      this.bind(decl.id.name, decl.start);
      names.push(decl.id.name);
    }
    if (exported) for (const n of names) if (!this.localExport.has(n)) this.localExport.set(n, n);
  }

  private bind(local: string, at: number): void {
    this.localAt.set(local, at);
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

  private text(node: Node): string {
    const s = this.source.slice(node.start, node.end).replace(/\s+/g, ' ');
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  }
}

const SKIP_KEYS = new Set(['type', 'start', 'end', 'parent', 'range', 'loc']);

/**
 * Calls `visit` on every node whose span holds one of `offsets`, outermost first, and descends
 * only into those: far cheaper than a full traversal, since most of a file never mentions `task`.
 */
function visitCovering(node: Node, offsets: readonly number[], visit: (n: Node) => void): void {
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
      visit(v as Node);
      visitCovering(v as Node, offsets, visit);
    }
  };
  for (const key in node) {
    if (SKIP_KEYS.has(key)) continue;
    const v = (node as unknown as Record<string, unknown>)[key];
    if (Array.isArray(v)) for (const el of v) child(el);
    else child(v);
  }
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

function identifier(name: string): string {
  const s = name.replace(/[^\w$]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''));
  return /^[A-Za-z_$]/.test(s) ? s : 'myTask';
}
