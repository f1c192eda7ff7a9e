/**
 * `nuvom plugin scaffold NAME [--capability CAP]`: writes a starter plugin and a mocha test that
 * passes as written. The plugin imports only `nuvom/plugin` (and `nuvom/testing` for backends).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NuvomError } from '../../sdk/plugin.ts';

export const CAPABILITIES = ['monitoring', 'queue_backend', 'result_backend', 'cli'] as const;
export type Capability = (typeof CAPABILITIES)[number];

const pascal = (name: string) => name.split(/[^a-zA-Z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
const implName = (name: string) => name.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z]+/, 'x');

function pluginSource(name: string, cap: Capability): string {
  const P = pascal(name);
  const impl = implName(name);
  switch (cap) {
    case 'monitoring':
      return `/** ${name}: counts finished jobs per task through the public hook bus. */
import { definePlugin } from 'nuvom/plugin';

export const counts = new Map<string, number>();

export const ${P}Plugin = definePlugin({
  name: '${name}',
  apiVersion: 1,
  provides: ['monitoring'],
  register(ctx) {
    ctx.hooks.jobSucceeded.tap('${name}', (event) => {
      counts.set(event.taskName, (counts.get(event.taskName) ?? 0) + 1);
    });
  },
  start(settings) {
    // [settings.${name}] in .nuvom_plugins.toml arrives here.
    void settings;
  },
});

export default ${P}Plugin;
`;
    case 'queue_backend':
      return `/**
 * ${name}: a queue backend. It starts as the reference in-memory queue; replace the methods with your
 * storage and keep the conformance test passing. Select it with NUVOM_QUEUE_BACKEND=${impl}.
 */
import { definePlugin } from 'nuvom/plugin';
import { MemoryQueue } from 'nuvom/testing';

export class ${P}Queue extends MemoryQueue {}

export const ${P}Plugin = definePlugin({
  name: '${name}',
  apiVersion: 1,
  provides: ['queue:${impl}'],
  register(ctx) {
    ctx.provide('queue', '${impl}', () => new ${P}Queue(), (q) => q.close());
  },
});

export default ${P}Plugin;
`;
    case 'result_backend':
      return `/**
 * ${name}: a result store. It starts as the reference in-memory store; replace the methods with your
 * storage and keep the conformance test passing. Select it with NUVOM_RESULT_BACKEND=${impl}.
 */
import { definePlugin } from 'nuvom/plugin';
import { MemoryResultStore } from 'nuvom/testing';

export class ${P}ResultStore extends MemoryResultStore {}

export const ${P}Plugin = definePlugin({
  name: '${name}',
  apiVersion: 1,
  provides: ['resultStore:${impl}'],
  register(ctx) {
    ctx.provide('resultStore', '${impl}', () => new ${P}ResultStore(), (s) => s.close());
  },
});

export default ${P}Plugin;
`;
    case 'cli':
      return `/** ${name}: adds \`nuvom ${impl}\` to the CLI. */
import { definePlugin } from 'nuvom/plugin';

export const ${P}Plugin = definePlugin({
  name: '${name}',
  apiVersion: 1,
  provides: ['cli'],
  register(ctx) {
    ctx.hooks.cli.tap('${name}', ({ program }) => {
      program.command('${impl}')
        .description('say hello from ${name}')
        .action(() => { process.stdout.write('hello from ${name}\\n'); });
    });
  },
});

export default ${P}Plugin;
`;
  }
}

function testSource(name: string, cap: Capability): string {
  const P = pascal(name);
  const head = `import { expect } from 'chai';\nimport ${P}Plugin from './${name}.ts';\n`;
  const shape = `  it('is a valid nuvom plugin', () => {\n    expect(${P}Plugin.name).to.equal('${name}');\n    expect(${P}Plugin.apiVersion).to.equal(1);\n  });\n`;
  if (cap === 'queue_backend') {
    return `${head}import { queueConformance } from 'nuvom/testing';\nimport { ${P}Queue } from './${name}.ts';\n\ndescribe('${name}', () => {\n${shape}});\n\nqueueConformance('${name} queue', async () => ({ queue: new ${P}Queue() }));\n`;
  }
  if (cap === 'result_backend') {
    return `${head}import { resultStoreConformance } from 'nuvom/testing';\nimport { ${P}ResultStore } from './${name}.ts';\n\ndescribe('${name}', () => {\n${shape}});\n\nresultStoreConformance('${name} result store', async () => ({ store: new ${P}ResultStore() }));\n`;
  }
  return `${head}\ndescribe('${name}', () => {\n${shape}});\n`;
}

export function scaffold(name: string, cap: string, outDir: string, force = false): string[] {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new NuvomError('NUVOM_E_USAGE', `plugin name "${name}" must be lower-case letters, digits and "-", starting with a letter (e.g. my-queue)`);
  }
  if (!(CAPABILITIES as readonly string[]).includes(cap)) {
    throw new NuvomError('NUVOM_E_USAGE', `--capability must be one of ${CAPABILITIES.join(', ')}, got "${cap}"`);
  }
  const dir = path.resolve(outDir);
  const files = { [`${name}.ts`]: pluginSource(name, cap as Capability), [`${name}.test.ts`]: testSource(name, cap as Capability) };
  const exists = Object.keys(files).filter((f) => existsSync(path.join(dir, f)));
  if (exists.length && !force) {
    throw new NuvomError('NUVOM_E_USAGE', `${exists.map((f) => path.join(dir, f)).join(', ')} already exist(s); pass --force to overwrite`);
  }
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([f, text]) => { writeFileSync(path.join(dir, f), text); return path.join(dir, f); });
}
