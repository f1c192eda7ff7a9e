import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from '../../sdk/index.ts';
import { cleanupTempProjects, memoryLogger, REPO_ROOT, tempProject, waitFor } from '../helpers/tmp.ts';

const greeter = (word: string) => `import { task } from 'nuvom';\nexport const greet = task({ name: 'greet' }, async () => '${word}');\nexport const nap = task({ name: 'nap' }, async (ms: number) => { await new Promise((r) => setTimeout(r, ms)); return '${word} after nap'; });\n`;

describe('runworker and the manifest', function () {
  this.timeout(60_000);
  let worker: ChildProcess | undefined;
  let client: Client | undefined;
  let stderr = '';

  afterEach(async () => {
    worker?.kill('SIGKILL');
    await client?.close();
    worker = undefined; client = undefined; stderr = '';
  });
  after(cleanupTempProjects);

  function project() {
    return tempProject({
      'package.json': '{ "name": "app", "type": "module" }',
      'tasks/greet.ts': greeter('v1'),
      // Importing this module would fail: a worker must load only the module of the job's task.
      'tasks/poison.ts': "import { task } from 'nuvom';\nthrow new Error('poison.ts was imported');\nexport const never = task({ name: 'never' }, async () => 1);\n",
    }, { linkNuvom: true });
  }

  function startWorker(dir: string, ...flags: string[]) {
    worker = spawn('node', [path.join(REPO_ROOT, 'bin/nuvom.js'), '--cwd', dir, 'runworker', '--threads', '1', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
    worker.stderr!.on('data', (d) => { stderr += String(d); });
  }

  async function connect(dir: string) {
    await waitFor(() => stderr.includes('started'), { what: 'the worker to start', timeoutMs: 30_000 });
    client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger });
    return client;
  }

  it('builds a missing manifest at start and loads only the module of the job it runs', async () => {
    const dir = project();
    startWorker(dir);
    const c = await connect(dir);
    expect(stderr).to.contain('no manifest at');
    expect(stderr).to.match(/discovered tasks: 3 task\(s\)/);
    const h = await c.enqueue('greet', []);
    expect(await h.result({ timeoutSecs: 30 })).to.equal('v1');
  });

  it('in dev mode reloads changed task modules without dropping a running job', async () => {
    const dir = project();
    startWorker(dir, '--dev');
    const c = await connect(dir);
    expect(await (await c.enqueue('greet', [])).result({ timeoutSecs: 30 })).to.equal('v1');
    const napping = await c.enqueue('nap', [1500]);
    await waitFor(async () => (await c.getJob(napping.id))?.status === 'RUNNING', { what: 'the nap to start' });
    writeFileSync(path.join(dir, 'tasks/greet.ts'), greeter('v2'));
    await waitFor(() => stderr.includes('task modules reloaded'), { what: 'the reload', timeoutMs: 30_000 });
    expect(await (await c.enqueue('greet', [])).result({ timeoutSecs: 30 })).to.equal('v2');
    expect(await napping.result({ timeoutSecs: 30 })).to.equal('v1 after nap');
  });
});
