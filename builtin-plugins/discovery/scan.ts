/**
 * Finds the tasks one source file defines, by parsing it with oxc-parser: `task(...)` calls and
 * `@task` method decorators whose `task` is imported from "nuvom", their names, exports and literal
 * options. What cannot be known statically (a computed name, an unexported task) becomes a problem
 * saying how to fix it.
 * Must never: run, import or require user code; report a task under a name it only guessed.
 */
import { parseSync, type EcmaScriptModule } from 'oxc-parser';
import type {
  Argument, CallExpression, Class, Decorator, Expression, MethodDefinition, Node, ObjectExpression, Program,
} from 'oxc-parser';
import { ModuleBindings, NUVOM } from './bindings.ts';
import { readSignature } from './params.ts';
import { LineIndex, NOT_STATIC, propertyName, staticValue, unwrap, visitCovering } from './static-values.ts';
import type { Problem, ScanResult, StaticValue, TaskEntry } from './types.ts';
import { taskNameProblem } from '../../sdk/plugin.ts';

const FIX = "give it a literal name: task({ name: 'x' }, ...)";

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
function isFunction(n: Node): n is Node & { params: unknown[]; body: unknown } {
  return FUNCTION_TYPES.has(n.type);
}

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

type Site = {
  at: number; name: string | null; problem: { at: number; message: string } | null; options: Record<string, StaticValue>;
  /** The task's function when the scan can see it (a literal, or a const/function of this module), else null. */
  fn: { params: unknown[] } | null;
};

class FileScan {
  private readonly b: ModuleBindings;
  private readonly tasks: TaskEntry[] = [];
  private readonly problems: Problem[] = [];

  constructor(
    private readonly file: string,
    private readonly source: string,
    private readonly lines: LineIndex,
    private readonly program: Program,
  ) {
    this.b = new ModuleBindings(program);
  }

  run(): ScanResult {
    if (!this.b.importsTask) return { tasks: [], problems: [] };
    const calls: CallExpression[] = [];
    const decorated: Array<{ cls: Class; method: MethodDefinition; dec: Decorator; call: CallExpression | null }> = [];
    const decoratorCalls = new Set<number>();
    const onClass = (cls: Class) => {
      for (const el of cls.body.body) {
        if (el.type !== 'MethodDefinition' && el.type !== 'TSAbstractMethodDefinition') continue;
        for (const dec of el.decorators) {
          const e = unwrap(dec.expression);
          if (this.b.isTaskRef(e)) decorated.push({ cls, method: el, dec, call: null });
          else if (e.type === 'CallExpression' && this.b.isTaskRef(e.callee)) {
            decorated.push({ cls, method: el, dec, call: e });
            decoratorCalls.add(e.start);
          }
        }
      }
    };
    visitCovering(this.program, this.b.mentions(this.source), (n) => {
      if (n.type === 'CallExpression' && this.b.isTaskRef(n.callee)) calls.push(n);
      else if (n.type === 'ClassDeclaration' || n.type === 'ClassExpression') onClass(n);
      // Inside a function that binds `task` (or the namespace) itself, the name is not nuvom's.
      else if (isFunction(n) && this.b.shadowedIn(n)) return false;
      return true;
    });

    for (const call of calls) {
      if (decoratorCalls.has(call.start)) continue;
      this.accept(this.callSite(call), this.b.exportOf(call.start), call.start, null, null);
    }
    for (const { cls, method, dec, call } of decorated) {
      const methodName = propertyName(method.key, method.computed);
      const site = this.readOptions(call?.arguments[0] ?? null, dec.start);
      site.fn = method.value as { params: unknown[] };
      if (site.name === null && !site.problem) {
        if (methodName !== null) site.name = methodName;
        else site.problem = { at: method.key.start, message: `the decorated method's name is computed, so discovery cannot know the task's name; ${FIX}` };
      }
      this.accept(site, this.b.exportOf(cls.start), dec.start, methodName ?? undefined, cls);
    }
    this.tasks.sort((a, b) => a.line - b.line);
    this.problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { tasks: this.tasks, problems: this.problems };
  }

  private accept(site: Site, exported: string | undefined, at: number, method: string | undefined | null, cls: Class | null): void {
    if (site.problem) return this.problem(site.problem.at, site.problem.message);
    const name = site.name as string;
    // Refused at the scan too, so the manifest never holds a name its readers would refuse.
    const badName = taskNameProblem(name);
    if (badName) return this.problem(at, badName);
    if (exported === undefined) {
      const local = this.b.atLocal.get(cls ? cls.start : at);
      const how = cls
        ? `export its class${cls.id ? ` (export class ${cls.id.name} { ... })` : ''}`
        : local
          ? `export it: export const ${local} = task(...)`
          : `define it at the module's top level and export it: export const ${identifier(name)} = task(...)`;
      return this.problem(at, `task "${name}" is not exported, so a worker cannot load it; ${how}`);
    }
    const entry: TaskEntry = { name, file: this.file, export: exported, line: this.lines.at(at).line, options: site.options };
    if (method) entry.method = method;
    entry.signature = site.fn ? readSignature(site.fn, this.source) : null;
    this.tasks.push(entry);
  }

  private problem(at: number, message: string): void {
    this.problems.push({ file: this.file, ...this.lines.at(at), message });
  }

  /** Name and options of `task(fn)` / `task(options, fn)`. */
  private callSite(call: CallExpression): Site {
    const args = call.arguments;
    if (args.some((a) => a.type === 'SpreadElement')) {
      return { at: call.start, name: null, options: {}, fn: null, problem: { at: call.start, message: `task() is called with spread arguments, so discovery cannot know the task's name; ${FIX}` } };
    }
    let optionsNode: Argument | null = null;
    let fnNode: Expression | null = null;
    if (args.length >= 2) [optionsNode, fnNode] = [args[0], args[1] as Expression];
    else if (args.length === 1 && unwrap(args[0] as Expression).type === 'ObjectExpression') optionsNode = args[0];
    else if (args.length === 1) fnNode = args[0] as Expression;
    const site = this.readOptions(optionsNode, call.start);
    if (!fnNode && !site.problem) site.problem = { at: call.start, message: "task() needs a function: task(fn) or task({ name: 'x' }, fn)" };
    if (site.problem || !fnNode) return site;
    const fn = unwrap(fnNode);
    if (isFunction(fn)) site.fn = fn as { params: unknown[] };
    else if (fn.type === 'Identifier') site.fn = this.b.fnNodes.get(fn.name) ?? null;
    if (site.name !== null) return site;
    if (fn.type === 'FunctionExpression' && fn.id) site.name = fn.id.name;
    else if (fn.type === 'Identifier' && this.b.fnNames.has(fn.name)) site.name = this.b.fnNames.get(fn.name) as string;
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
    const site: Site = { at, name: null, problem: null, options: {}, fn: null };
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

  private text(node: Node): string {
    const s = this.source.slice(node.start, node.end).replace(/\s+/g, ' ');
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  }
}

function identifier(name: string): string {
  const s = name.replace(/[^\w$]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''));
  return /^[A-Za-z_$]/.test(s) ? s : 'myTask';
}
