import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { register as globalRegistry } from 'prom-client';
import type { Client, RunningWorker } from '../../sdk/index.ts';
import { definePlugin } from '../../sdk/plugin.ts';
import type { MetricsService } from '../../builtin-plugins/prometheus/index.ts';
import { cleanupTempProjects, monitoringClient, monitoringProject, scrape, value, waitFor, type Sample } from './helpers.ts';

const TOML = `[plugins]
monitoring = ["nuvom/plugins/prometheus"]

[settings.nuvom-prometheus]
port = 0
`;

describe('prometheus plugin: metrics of a running worker', function () {
  this.timeout(30_000);
  let dir: string;
  let client: Client;
  let lines: string[];
  let worker: RunningWorker;
  let url: string;

  /** Scrapes until `check` holds, so a test never races an event that is on its way. */
  async function scrapeUntil(what: string, check: (s: Sample[]) => boolean): Promise<Sample[]> {
    let last: Sample[] = [];
    try {
      return await waitFor(async () => { last = await scrape(url); return check(last) ? last : null; }, { what, timeoutMs: 15_000 });
    } catch (err) {
      const ours = last.filter((s) => s.name.startsWith('nuvom_') && !s.name.endsWith('_bucket'));
      throw new Error(`${(err as Error).message}; last scrape:\n${ours.map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`).join('\n')}`);
    }
  }
  const jobs = (s: Sample[], task: string, outcome: string) => value(s, 'nuvom_jobs_total', { task: `mon.${task}`, outcome });

  before(async () => {
    dir = await monitoringProject('mon', TOML);
    ({ client, lines } = await monitoringClient(dir));
    worker = await client.startWorker({ threads: 2 });
    const metrics = client.kernel.resolve('metrics') as MetricsService;
    url = await waitFor(() => metrics.url(), { what: 'the metrics server to bind at the worker start' });
  });
  after(async () => {
    await client?.close();
    cleanupTempProjects();
  });

  it('binds when the worker starts, on a free port for port = 0, and logs the URL', () => {
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(Number(new URL(url).port)).to.be.greaterThan(0);
    expect(lines.some((l) => l.includes(`serving Prometheus metrics at ${url}`))).to.equal(true);
    expect(worker.id).to.be.a('string');
  });

  it('serves the exposition format with process metrics, from its own registry', async () => {
    const res = await fetch(url);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.contain('text/plain');
    const text = await res.text();
    expect(text).to.contain('# TYPE nuvom_jobs_total counter');
    expect(text).to.contain('# TYPE nuvom_job_run_seconds histogram');
    expect(text).to.contain('process_cpu_user_seconds_total');
    expect(text).to.contain('nodejs_heap_size_total_bytes');
    expect(await globalRegistry.metrics()).not.to.contain('nuvom_');
    expect((await fetch(new URL('/nope', url))).status).to.equal(404);
  });

  it('counts succeeded jobs and enqueues by task, and observes their run and wait times', async () => {
    const before = await scrape(url);
    const handles = await Promise.all([1, 2, 3].map((x) => client.enqueue('mon.ok', [x])));
    expect(await Promise.all(handles.map((h) => h.result({ timeoutSecs: 15 })))).to.deep.equal([2, 4, 6]);
    const delta = (s: Sample[], name: string, labels: Record<string, string> = {}) => value(s, name, { task: 'mon.ok', ...labels }) - value(before, name, { task: 'mon.ok', ...labels });
    const s = await scrapeUntil('3 successes of mon.ok', (x) => delta(x, 'nuvom_jobs_total', { outcome: 'succeeded' }) === 3);
    expect(delta(s, 'nuvom_jobs_enqueued_total')).to.equal(3);
    expect(delta(s, 'nuvom_job_run_seconds_count')).to.equal(3);
    expect(delta(s, 'nuvom_job_wait_seconds_count')).to.equal(3);
    expect(value(s, 'nuvom_job_run_seconds_bucket', { task: 'mon.ok', le: '+Inf' })).to.equal(value(s, 'nuvom_job_run_seconds_count', { task: 'mon.ok' }));
    expect(delta(s, 'nuvom_job_run_seconds_sum')).to.be.at.least(0);
    expect(jobs(s, 'ok', 'failed')).to.equal(0);
  });

  it('counts a job that throws as failed, with its run time', async () => {
    const h = await client.enqueue('mon.boom', []);
    const err = await h.result({ timeoutSecs: 15 }).catch((e: Error) => e);
    expect((err as Error).name).to.equal('TypeError');
    const s = await scrapeUntil('the failure of mon.boom', (x) => jobs(x, 'boom', 'failed') === 1);
    expect(jobs(s, 'boom', 'succeeded')).to.equal(0);
    expect(jobs(s, 'boom', 'retried')).to.equal(0);
    expect(value(s, 'nuvom_job_run_seconds_count', { task: 'mon.boom' })).to.equal(1);
  });

  it('counts a failed attempt that will run again as retried, then the success; both attempts are timed', async () => {
    const h = await client.enqueue('mon.flaky', []);
    expect(await h.result({ timeoutSecs: 15 })).to.equal('ok');
    const s = await scrapeUntil('the retry and success of mon.flaky', (x) => jobs(x, 'flaky', 'retried') === 1 && jobs(x, 'flaky', 'succeeded') === 1);
    expect(jobs(s, 'flaky', 'failed')).to.equal(0);
    expect(value(s, 'nuvom_job_run_seconds_count', { task: 'mon.flaky' })).to.equal(2);
    expect(value(s, 'nuvom_job_wait_seconds_count', { task: 'mon.flaky' })).to.equal(2);
    expect(value(s, 'nuvom_jobs_enqueued_total', { task: 'mon.flaky' })).to.equal(1);
  });

  it('counts a runaway job as timed_out and failed, times it past its timeout, and counts the thread replacement', async () => {
    const replaced = value(await scrape(url), 'nuvom_thread_replacements_total');
    const h = await client.enqueue('mon.spin', []);
    const err = await h.result({ timeoutSecs: 15 }).catch((e: Error) => e);
    expect((err as Error).name).to.equal('TimeoutError');
    const s = await scrapeUntil('the timeout of mon.spin and a new thread', (x) => jobs(x, 'spin', 'timed_out') === 1 && jobs(x, 'spin', 'failed') === 1
      && value(x, 'nuvom_thread_replacements_total') === replaced + 1);
    expect(value(s, 'nuvom_job_run_seconds_count', { task: 'mon.spin' })).to.equal(1);
    expect(value(s, 'nuvom_job_run_seconds_sum', { task: 'mon.spin' })).to.be.at.least(0.5);
    expect(value(s, 'nuvom_job_run_seconds_bucket', { task: 'mon.spin', le: '0.25' })).to.equal(0);
    // the worker keeps both threads and keeps serving
    await scrapeUntil('two live threads again', (x) => value(x, 'nuvom_worker_threads') === 2);
    expect(await (await client.enqueue('mon.ok', [5])).result({ timeoutSecs: 15 })).to.equal(10);
  });

  it('reports busy and idle worker threads', async () => {
    const release = path.join(dir, `release-${Date.now()}`);
    const h = await client.enqueue('mon.hold', [release]);
    await scrapeUntil('one busy thread', (x) => value(x, 'nuvom_worker_threads', { state: 'busy' }) === 1 && value(x, 'nuvom_worker_threads', { state: 'idle' }) === 1);
    writeFileSync(release, '');
    expect(await h.result({ timeoutSecs: 15 })).to.equal('released');
    await scrapeUntil('no busy thread', (x) => value(x, 'nuvom_worker_threads', { state: 'busy' }) === 0 && value(x, 'nuvom_worker_threads', { state: 'idle' }) === 2);
  });

  it('reads queue depth and job records by state on scrape, and counts a cancellation', async () => {
    const h = await client.enqueue('mon.ok', [1], { delaySecs: 600 });
    let s = await scrapeUntil('a delayed job', (x) => value(x, 'nuvom_queue_jobs', { state: 'delayed' }) === 1);
    expect(value(s, 'nuvom_queue_jobs', { state: 'ready' })).to.equal(0);
    expect(value(s, 'nuvom_queue_jobs', { state: 'leased' })).to.equal(0);
    expect(value(s, 'nuvom_jobs', { status: 'PENDING' })).to.equal(1);
    expect(value(s, 'nuvom_jobs', { status: 'SUCCESS' })).to.be.at.least(5);
    expect(value(s, 'nuvom_jobs', { status: 'FAILED' })).to.be.at.least(2);
    expect(value(s, 'nuvom_oldest_pending_job_age_seconds')).to.be.at.least(0);
    expect(await client.cancelJob(h.id)).to.equal('cancelled');
    s = await scrapeUntil('the cancellation', (x) => jobs(x, 'ok', 'cancelled') === 1 && value(x, 'nuvom_queue_jobs', { state: 'delayed' }) === 0);
    expect(value(s, 'nuvom_jobs', { status: 'CANCELLED' })).to.equal(1);
    expect(value(s, 'nuvom_jobs', { status: 'PENDING' })).to.equal(0);
    expect(value(s, 'nuvom_metrics_collect_errors_total')).to.equal(0);
  });

  it('stops serving when the client closes', async () => {
    await client.close();
    const err = await fetch(url).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(Error);
  });
});

describe('prometheus plugin: a monitor plugin whose tap throws', function () {
  this.timeout(30_000);
  let client: Client | undefined;
  after(async () => {
    await client?.close();
    cleanupTempProjects();
  });

  it('is reported once with its name and hook, and jobs and the other monitors keep running', async () => {
    const broken = definePlugin({
      name: 'broken-monitor',
      apiVersion: 1,
      provides: ['monitoring'],
      register(ctx) {
        ctx.hooks.jobSucceeded.tap('broken-monitor', () => { throw new Error('dashboard unreachable'); });
        ctx.hooks.jobStarted.tapPromise('broken-monitor', async () => { throw new Error('async tap rejects'); });
      },
    });
    const dir = await monitoringProject('mon2', TOML);
    const made = await monitoringClient(dir, [broken]);
    client = made.client;
    await client.startWorker({ threads: 1 });
    const metrics = client.kernel.resolve('metrics') as MetricsService;
    const url = await waitFor(() => metrics.url(), { what: 'the metrics server' });
    const handles = await Promise.all([1, 2, 3, 4, 5].map((x) => client!.enqueue('mon2.ok', [x])));
    expect(await Promise.all(handles.map((h) => h.result({ timeoutSecs: 15 })))).to.deep.equal([2, 4, 6, 8, 10]);
    await waitFor(() => client!.kernel.bus.failures()['broken-monitor/jobSucceeded'] === 5, { what: 'five failures counted' });
    expect(client.kernel.bus.failures()['broken-monitor/jobStarted']).to.equal(5);
    const reports = made.lines.filter((l) => l.startsWith('error') && l.includes('broken-monitor'));
    expect(reports).to.have.length(2);
    expect(reports.find((l) => l.includes('"jobSucceeded"'))).to.contain('dashboard unreachable');
    expect(reports.find((l) => l.includes('"jobStarted"'))).to.contain('async tap rejects');
    // the prometheus plugin's own taps on the same hooks ran every time (and this client's registry is its own)
    const s = await scrape(url);
    expect(value(s, 'nuvom_jobs_total', { task: 'mon2.ok', outcome: 'succeeded' })).to.equal(5);
    expect(value(s, 'nuvom_job_wait_seconds_count', { task: 'mon2.ok' })).to.equal(5);
    expect(value(s, 'nuvom_jobs_total', { task: 'mon.ok' })).to.equal(0);
  });
});
