import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { createClient, type Client } from '../../sdk/index.ts';
import { isNuvomError } from '../../sdk/plugin.ts';
import { readSettings, type MetricsService } from '../../builtin-plugins/prometheus/index.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { cleanupTempProjects, monitoringClient, monitoringProject, REPO_ROOT, waitFor } from './helpers.ts';

const toml = (port: number, extra = '') => `[plugins]
monitoring = ["nuvom/plugins/prometheus"]

[settings.nuvom-prometheus]
port = ${port}
${extra}`;

/** Runs the CLI from source (`nuvom --cwd dir ...args`) to its end. */
function nuvom(dir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NUVOM_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/main.ts'), '--cwd', dir, ...args], {
    cwd: REPO_ROOT, env: { ...env, NUVOM_QUEUE_BACKEND: 'memory', NUVOM_RESULT_BACKEND: 'memory', NUVOM_SCHEDULER_BACKEND: 'memory' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, stderr }); });
  });
}

describe('prometheus plugin: a port already in use', function () {
  this.timeout(30_000);
  let holder: Server;
  let port: number;
  const clients: Client[] = [];

  before(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as { port: number }).port;
  });
  after(async () => {
    for (const c of clients) await c.close();
    await new Promise((resolve) => holder.close(resolve));
    cleanupTempProjects();
  });

  it('makes metrics.listen() reject with NUVOM_E_PORT_IN_USE naming host:port and how to change it', async () => {
    const dir = await monitoringProject('port1', toml(port));
    const { client } = await monitoringClient(dir);
    clients.push(client);
    const err = await (client.kernel.resolve('metrics') as MetricsService).listen().catch((e: unknown) => e);
    expect(isNuvomError(err, 'NUVOM_E_PORT_IN_USE'), String(err)).to.equal(true);
    const message = (err as Error).message;
    expect(message).to.contain('nuvom-prometheus');
    expect(message).to.contain(`127.0.0.1:${port}`);
    expect(message).to.contain('[settings.nuvom-prometheus] port');
    expect(message).to.contain('NUVOM_PROMETHEUS_PORT');
  });

  it('stops `nuvom runworker` before any worker starts', async () => {
    const dir = await monitoringProject('port2', toml(port));
    const r = await nuvom(dir, ['runworker', '--threads', '1']);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('NUVOM_E_PORT_IN_USE');
    expect(r.stderr).to.contain(`127.0.0.1:${port}`);
    expect(r.stderr).not.to.match(/worker .* started/);
    expect(r.stderr).not.to.contain('discovered tasks');
  });

  it('never binds for commands that run no worker (`nuvom status`)', async () => {
    const dir = await monitoringProject('port3', toml(port));
    const r = await nuvom(dir, ['status', 'no-such-job']);
    expect(r.stderr).to.contain('NUVOM_E_JOB_NOT_FOUND');
    expect(r.stderr).not.to.contain('NUVOM_E_PORT_IN_USE');
  });

  it('with serve = "always", fails createClient() cleanly with the same error', async () => {
    const dir = await monitoringProject('port4', toml(port, 'serve = "always"\n'));
    const err = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'memory', resultBackend: 'memory' } }).catch((e: unknown) => e);
    expect(isNuvomError(err, 'NUVOM_E_PORT_IN_USE'), String(err)).to.equal(true);
    expect((err as Error).message).to.contain(`127.0.0.1:${port}`);
  });

  it('in application code, logs the error once at the worker start, and the worker still runs its jobs', async () => {
    const dir = await monitoringProject('port5', toml(port));
    const { client, lines } = await monitoringClient(dir);
    clients.push(client);
    await client.startWorker({ threads: 1 });
    const line = await waitFor(() => lines.find((l) => l.startsWith('error') && l.includes('cannot serve metrics')), { what: 'the bind error in the log' });
    expect(line).to.contain(`127.0.0.1:${port}`);
    expect(line).to.contain('runs without /metrics');
    expect(await (await client.enqueue('port5.ok', [21])).result({ timeoutSecs: 15 })).to.equal(42);
    expect((client.kernel.resolve('metrics') as MetricsService).url()).to.equal(null);
  });
});

describe('prometheus plugin: settings', () => {
  it('defaults to 127.0.0.1:9150 and binds when a worker starts', () => {
    expect(readSettings({}, {})).to.include({ host: '127.0.0.1', port: 9150, serve: 'worker', defaultMetrics: true });
  });

  it('takes host and port from [settings.nuvom-prometheus], with NUVOM_PROMETHEUS_HOST/PORT over them', () => {
    expect(readSettings({ host: '0.0.0.0', port: 9200 }, {})).to.include({ host: '0.0.0.0', port: 9200 });
    expect(readSettings({ host: '0.0.0.0', port: 9200 }, { NUVOM_PROMETHEUS_HOST: '::1', NUVOM_PROMETHEUS_PORT: '9300' }))
      .to.include({ host: '::1', port: 9300, portSource: 'NUVOM_PROMETHEUS_PORT' });
  });

  it('refuses bad values and unknown keys, naming the key', () => {
    const refuse = (raw: Record<string, unknown>, env: Record<string, string>, text: string) => {
      let err: unknown;
      try { readSettings(raw, env); } catch (e) { err = e; }
      expect(isNuvomError(err, 'NUVOM_E_CONFIG'), String(err)).to.equal(true);
      expect((err as Error).message).to.contain(text);
    };
    refuse({ port: 70000 }, {}, '[settings.nuvom-prometheus] port');
    refuse({ port: '9150' }, {}, 'whole number from 0 to 65535');
    refuse({}, { NUVOM_PROMETHEUS_PORT: 'abc' }, 'NUVOM_PROMETHEUS_PORT="abc"');
    refuse({ serve: 'sometimes' }, {}, 'serve');
    refuse({ prometheus_port: 9150 }, {}, 'unknown key(s) prometheus_port');
    refuse({ run_buckets: [1, 0.5] }, {}, 'run_buckets');
    refuse({ record_gauges: 'no' }, {}, '[settings.nuvom-prometheus] record_gauges');
    refuse({}, { NUVOM_PROMETHEUS_RECORD_GAUGES: 'off' }, 'NUVOM_PROMETHEUS_RECORD_GAUGES="off"');
  });

  it('reports the record gauges unless record_gauges = false, with NUVOM_PROMETHEUS_RECORD_GAUGES over it', () => {
    expect(readSettings({}, {}).recordGauges).to.equal(true);
    expect(readSettings({ record_gauges: false }, {}).recordGauges).to.equal(false);
    expect(readSettings({ record_gauges: true }, { NUVOM_PROMETHEUS_RECORD_GAUGES: 'false' }).recordGauges).to.equal(false);
    expect(readSettings({ record_gauges: false }, { NUVOM_PROMETHEUS_RECORD_GAUGES: '1' }).recordGauges).to.equal(true);
  });
});

describe('prometheus plugin: record_gauges = false', function () {
  this.timeout(30_000);
  let client: Client;

  after(async () => {
    await client?.close();
    cleanupTempProjects();
  });

  it('serves the queue gauge without reading the result store\'s stats on scrape', async () => {
    const dir = await monitoringProject('rg', toml(0, 'serve = "always"\nrecord_gauges = false\n'));
    ({ client } = await monitoringClient(dir));
    const store = client.kernel.resolve('resultStore');
    let statsCalls = 0;
    const stats = store.stats.bind(store);
    store.stats = (since: number) => { statsCalls++; return stats(since); };
    await client.enqueue('rg.ok', [1], { delaySecs: 600 });
    const metrics = client.kernel.resolve('metrics') as MetricsService;
    const url = await waitFor(() => metrics.url(), { what: 'the metrics server to bind' });
    const text = await (await fetch(url)).text();
    expect(text).to.match(/^nuvom_queue_jobs\{state="delayed"\} 1$/m);
    expect(text).not.to.contain('nuvom_jobs{');
    expect(text).not.to.contain('nuvom_oldest_pending_job_age_seconds');
    expect(statsCalls).to.equal(0);
  });
});
