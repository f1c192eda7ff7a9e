import { expect } from 'chai';
import { scanFile } from '../../builtin-plugins/discovery/scan.ts';

const scan = (source: string, file = 'tasks/x.ts') => scanFile(file, source);
const only = (source: string, file?: string) => {
  const r = scan(source, file);
  expect(r.problems, JSON.stringify(r.problems)).to.deep.equal([]);
  expect(r.tasks).to.have.length(1);
  return r.tasks[0];
};

describe('discovery: scanFile detection forms', () => {
  it('finds `export const x = task(options, fn)` with its name, export and line', () => {
    const t = only("import { task } from 'nuvom';\n\nexport const add = task({ name: 'math.add' }, async (a: number, b: number) => a + b);\n");
    expect(t).to.deep.equal({ name: 'math.add', file: 'tasks/x.ts', export: 'add', line: 3, options: {},
      signature: { params: [{ name: 'a', type: 'number' }, { name: 'b', type: 'number' }], required: 2 } });
  });

  it('finds `export default task(...)` under the export "default"', () => {
    const t = only("import { task } from 'nuvom';\nexport default task({ name: 'd' }, async () => 1);\n");
    expect(t).to.include({ name: 'd', export: 'default', line: 2 });
  });

  it('finds `export { x }` of a local `const x = task(...)`', () => {
    const t = only("import { task } from 'nuvom';\nconst x = task({ name: 'x' }, async () => 1);\nexport { x };\n");
    expect(t).to.include({ name: 'x', export: 'x' });
  });

  it('finds `export { x as y }` under the exported name', () => {
    const t = only("import { task } from 'nuvom';\nconst x = task({ name: 'x' }, async () => 1);\nexport { x as y };\n");
    expect(t).to.include({ name: 'x', export: 'y' });
  });

  it('names `task(fn)` after a function declaration', () => {
    const t = only("import { task } from 'nuvom';\nexport async function sendEmail() {}\nexport const sendEmailTask = task(sendEmail);\n");
    expect(t).to.include({ name: 'sendEmail', export: 'sendEmailTask' });
  });

  it('names `task({ retries: 3 }, fn)` after the function and keeps the options', () => {
    const t = only("import { task } from 'nuvom';\nfunction sendEmail() {}\nexport const s = task({ retries: 3 }, sendEmail);\n");
    expect(t).to.deep.include({ name: 'sendEmail', options: { retries: 3 } });
  });

  it('names `task(async function named() {})` after the function expression', () => {
    expect(only("import { task } from 'nuvom';\nexport const n = task(async function named() {});\n").name).to.equal('named');
  });

  it('names `task(fn)` after a const arrow function by its binding, as JS does', () => {
    expect(only("import { task } from 'nuvom';\nconst resize = async () => 1;\nexport const r = task(resize);\n").name).to.equal('resize');
  });

  it('follows an aliased import (`import { task as t }`)', () => {
    const t = only("import { task as t } from 'nuvom';\nexport const a = t({ name: 'aliased' }, async () => 1);\n");
    expect(t).to.include({ name: 'aliased', export: 'a' });
  });

  it('follows a namespace import (`nuvom.task(...)`)', () => {
    const t = only("import * as nuvom from 'nuvom';\nexport const a = nuvom.task({ name: 'ns' }, async () => 1);\n");
    expect(t).to.include({ name: 'ns', export: 'a' });
  });

  it('finds a `@task(...)` method decorator, named by options.name, exported as its class', () => {
    const t = only("import { task } from 'nuvom';\nexport class Jobs {\n  @task({ name: 'jobs.send', retries: 1 })\n  async send() {}\n}\n");
    expect(t).to.deep.equal({ name: 'jobs.send', file: 'tasks/x.ts', export: 'Jobs', line: 3, options: { retries: 1 }, method: 'send', signature: { params: [], required: 0 } });
  });

  it('names a `@task()` decorated method after the method when there is no name option', () => {
    const t = only("import { task } from 'nuvom';\nclass Jobs {\n  @task({ retries: 2 }) static async cleanup() {}\n}\nexport default Jobs;\n");
    expect(t).to.include({ name: 'cleanup', export: 'default', method: 'cleanup' });
  });

  it('finds CommonJS `exports.x = task(...)` with `require("nuvom")`', () => {
    const t = only("const { task } = require('nuvom');\nfunction add() {}\nexports.add = task(add);\n", 'jobs.cjs');
    expect(t).to.include({ name: 'add', export: 'add', file: 'jobs.cjs' });
  });

  it('parses JSX in a plain .js file', () => {
    expect(only("import { task } from 'nuvom';\nconst v = <div />;\nexport const j = task({ name: 'jsx' }, async () => 1);\n", 'a.js').name).to.equal('jsx');
  });

  it('ignores a local function named task', () => {
    const r = scan("function task(o, f) { return f; }\nexport const a = task({ name: 'local' }, async () => 1); // nuvom\n");
    expect(r).to.deep.equal({ tasks: [], problems: [] });
  });

  it('ignores calls to a parameter or a local declaration that shadows nuvom\'s task', () => {
    const r = scan([
      "import { task } from 'nuvom';",
      "export const add = task({ name: 'add' }, async (a: number, b: number) => a + b);",
      'export function runAll(items: string[], task: (s: string) => void) { items.forEach((x) => task(x)); }',
      'export const each = ({ task }: { task: (n: number) => void }) => task(1);',
      'export function inner() { const task = (f: unknown) => f; return task(() => 1); }',
    ].join('\n'), 'a.ts');
    expect(r.problems).to.deep.equal([]);
    expect(r.tasks.map((t) => t.name)).to.deep.equal(['add']);
  });

  it('ignores `task` imported from another module', () => {
    const r = scan("import { task } from './nuvom-helpers';\nexport const a = task({ name: 'other' }, async () => 1);\n");
    expect(r).to.deep.equal({ tasks: [], problems: [] });
  });

  it('ignores a type-only import of task', () => {
    const r = scan("import type { task } from 'nuvom';\nexport const a = task({ name: 'typed' }, async () => 1);\n");
    expect(r.tasks).to.deep.equal([]);
  });
});

describe('discovery: scanFile static options', () => {
  it('reads strings, numbers with separators, negative numbers, booleans and literal arrays', () => {
    const t = only("import { task } from 'nuvom';\nexport const a = task({ name: 'a', description: `d`, timeoutSecs: 5_000, priority: -2, storeResult: false, tags: ['x', 'y'] }, async () => 1);\n");
    expect(t.options).to.deep.equal({ description: 'd', timeoutSecs: 5000, priority: -2, storeResult: false, tags: ['x', 'y'] });
  });

  it('leaves out non-literal option values and hooks', () => {
    const t = only("import { task } from 'nuvom';\nconst N = 3;\nexport const a = task({ name: 'a', retries: N, tags: ['x', tag], onError() {}, beforeJob: () => 1, backoff: 'fixed' as const }, async () => 1);\n");
    expect(t.options).to.deep.equal({ backoff: 'fixed' });
  });
});

describe('discovery: scanFile problems', () => {
  it('reports a non-literal name with its line and how to fix it', () => {
    const r = scan("import { task } from 'nuvom';\nconst someVar = 'x';\nexport const a = task({\n  name: someVar,\n}, async () => 1);\n");
    expect(r.tasks).to.deep.equal([]);
    expect(r.problems).to.have.length(1);
    expect(r.problems[0]).to.include({ file: 'tasks/x.ts', line: 4 });
    expect(r.problems[0].message).to.include('name: someVar').and.include("give it a literal name: task({ name: 'x' }, ...)");
  });

  it('reports an anonymous arrow without a name option', () => {
    const r = scan("import { task } from 'nuvom';\nexport const a = task(async () => 1);\n");
    expect(r.problems[0]).to.include({ line: 2 });
    expect(r.problems[0].message).to.include('anonymous');
  });

  it('reports a name that a spread could override', () => {
    const r = scan("import { task } from 'nuvom';\nfunction f() {}\nexport const a = task({ ...defaults, retries: 1 }, f);\n");
    expect(r.tasks).to.deep.equal([]);
    expect(r.problems[0].message).to.include('...defaults');
  });

  it('reports a function imported from elsewhere, whose name it cannot see', () => {
    const r = scan("import { task } from 'nuvom';\nimport { send } from './send';\nexport const a = task(send);\n");
    expect(r.problems[0].message).to.include("task({ name: 'send' }, send)");
  });

  it('reports a task that is not exported, with the fix', () => {
    const r = scan("import { task } from 'nuvom';\nconst hidden = task({ name: 'hidden' }, async () => 1);\n");
    expect(r.tasks).to.deep.equal([]);
    expect(r.problems[0]).to.include({ line: 2 });
    expect(r.problems[0].message).to.include('"hidden" is not exported').and.include('export const hidden = task(...)');
  });

  it('reports a decorated method whose class is not exported', () => {
    const r = scan("import { task } from 'nuvom';\nclass Jobs {\n  @task() run() {}\n}\n");
    expect(r.problems[0].message).to.include('"run" is not exported').and.include('export class Jobs');
  });

  it('reports a syntax error with line and column, and no tasks from that file', () => {
    const r = scan("import { task } from 'nuvom';\nexport const a = task({ name: 'a' }, async () => 1);\nconst = 3;\n");
    expect(r.tasks).to.deep.equal([]);
    expect(r.problems).to.have.length(1);
    expect(r.problems[0]).to.include({ file: 'tasks/x.ts', line: 3, column: 7 });
    expect(r.problems[0].message).to.match(/^syntax error/);
  });

  it('counts columns in UTF-16 units after non-ASCII text', () => {
    const r = scan("import { task } from 'nuvom';\nconst s = '😀é'; export const a = task(async () => 1);\n");
    expect(r.problems[0]).to.include({ line: 2, column: 40 });
  });
});
