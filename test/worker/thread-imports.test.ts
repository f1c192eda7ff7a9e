/**
 * What a worker thread loads, as an installed package runs (the built JS in dist/, a plain-JS task
 * module): the job runner and the task API, not the kernel's dependencies (hooks, container,
 * configuration loading and globbing) and not the TypeScript loader. Each costs start-up time and
 * memory in every thread the pool starts or replaces. Seen from a task in the thread: the CommonJS
 * modules loaded there (the thread's require cache, which ES imports of those packages fill too).
 * A real process. Needs dist/: `npm run build` (npm test builds first). And a thread that finished a
 * job is reused for the next, not started afresh.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { testClient } from '../helpers/client.ts';
import { REPO_ROOT, cleanupTempProjects, tempProject } from '../helpers/tmp.ts';
import * as t from '../fixtures/worker-tasks.ts';

const SDK = pathToFileURL(path.join(REPO_ROOT, 'dist/sdk/index.js')).href;

describe('worker thread: what it loads, and that it is reused', function () {
  this.timeout(60_000);
  after(() => cleanupTempProjects());

  it('runs a job without loading the kernel\'s dependencies or the TypeScript loader in the thread', async () => {
    const dir = tempProject({
      'package.json': '{ "type": "module" }',
      'tasks.mjs': `import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { task } from ${JSON.stringify(SDK)};
export const loaded = task({ name: 'imports.loaded' }, async () => ({ isMainThread, cjs: Object.keys(createRequire(import.meta.url).cache) }));
`,
      'main.mjs': `import { createClient } from ${JSON.stringify(SDK)};
import { loaded } from './tasks.mjs';
const client = await createClient({ cwd: process.cwd(), env: {}, config: { queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory', logLevel: 'warn' } });
const worker = await client.startWorker({ threads: 1, concurrency: 1 });
const h = await loaded.delay();
console.log(JSON.stringify(await h.result({ timeoutSecs: 30 })));
await worker.stop();
await client.close();
`,
    });
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['main.mjs'], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => { stdout += b; });
      child.stderr.on('data', (b) => { stderr += b; });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))));
    });
    const seen = JSON.parse(out.trim().split('\n').pop()!) as { isMainThread: boolean; cjs: string[] };
    expect(seen.isMainThread, 'the job ran in a worker thread').to.equal(false);
    const heavy = seen.cjs.filter((f) => /[\\/]node_modules[\\/](tapable|awilix|cosmiconfig|fast-glob|smol-toml|tsx|esbuild)[\\/]/.test(f));
    expect(heavy, 'kernel or TypeScript loader modules loaded in the thread').to.deep.equal([]);
  });

  it('reuses a warm thread: jobs run one after another all run in the thread that ran the first', async () => {
    const client = await testClient({ config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    const worker = await client.startWorker({ threads: 1, concurrency: 1 });
    try {
      const threads: Array<number | null> = [];
      for (let i = 0; i < 5; i++) {
        const h = await t.add.delay(i, 1);
        expect(await h.result({ timeoutSecs: 20 })).to.equal(i + 1);
        threads.push((await client.getJob(h.id))!.history?.at(-1)?.threadId ?? null);
      }
      expect(threads[0], 'a worker thread ran the first job').to.be.a('number').and.above(0);
      expect(new Set(threads), `thread of each job: ${threads.join(', ')}`).to.have.property('size', 1);
    } finally {
      await worker.stop();
      await client.close();
    }
  });
});
