import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from '../../sdk/index.ts';
import { dashboardHandler, serveDashboard, type DashboardHandler } from '../../builtin-plugins/dashboard/index.ts';
import { isNuvomError } from '../../sdk/plugin.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { cleanupTempProjects, monitoringProject, waitFor } from '../monitoring/helpers.ts';
import { settledJob } from '../helpers/client.ts';
import { maskSecrets, SECRET_MASK as MASK } from '../../sdk/plugin.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test-side JSON

async function mount(client: Client, opts: Parameters<typeof dashboardHandler>[1] = {}): Promise<{ url: string; close(): Promise<void>; handler: DashboardHandler }> {
  const handler = dashboardHandler(client, opts);
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, handler, close: () => new Promise((r) => { handler.close(); server.closeAllConnections(); server.close(() => r()); }) };
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: Json }> {
  const r = await fetch(url, init);
  return { status: r.status, body: (await r.json()) as Json };
}

describe('dashboard: JSON API over a SQLite store', function () {
  this.timeout(60_000);
  let client: Client;
  let d: Awaited<ReturnType<typeof mount>>;
  let failedId: string;
  const okIds: string[] = [];

  before(async () => {
    // Secrets in the plugin settings, which GET /api/plugins must mask.
    const dir = await monitoringProject('dash', '[settings.nuvom-dashboard]\nuser = "ops"\npassword = "pw-hunter2"\n\n[settings.audit]\ndsn = "postgres://app:db-hunter2@db.internal:5432/jobs"\napi_key = "k-hunter2"\nlevel = "info"\n');
    client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    await client.startWorker({ threads: 1 });
    const boom = await client.enqueue('dash.boom', []);
    failedId = boom.id;
    await settledJob(client, boom.id);
    for (let i = 0; i < 7; i++) {
      const h = await client.enqueue('dash.ok', [i]);
      okIds.push(h.id);
      await settledJob(client, h.id);
    }
    d = await mount(client);
  });
  after(async () => {
    await d?.close();
    await client?.close();
    cleanupTempProjects();
  });

  it('GET /api/stats gives counts by status and the latest failure with its first line', async () => {
    const { status, body } = await get(`${d.url}/api/stats`);
    expect(status).to.equal(200);
    expect(body.byStatus.SUCCESS).to.equal(7);
    expect(body.byStatus.FAILED).to.equal(1);
    expect(body.latestFailures[0]).to.include({ id: failedId, taskName: 'dash.boom', message: 'boom' });
  });

  it('GET /api/jobs pages with a keyset cursor, neither skipping nor repeating a job', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const { body }: { body: Json } = await get(`${d.url}/api/jobs?task=dash.ok&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(body.jobs.length).to.be.at.most(3);
      seen.push(...body.jobs.map((j: Json) => j.id as string));
      cursor = body.nextCursor as string | null;
    } while (cursor);
    expect([...seen].sort()).to.deep.equal([...okIds].sort());
  });

  it('GET /api/jobs filters by status and finds a job by id prefix', async () => {
    const failed = await get(`${d.url}/api/jobs?status=FAILED`);
    expect(failed.body.jobs.map((j: Json) => j.id)).to.deep.equal([failedId]);
    const found = await get(`${d.url}/api/jobs?q=${okIds[2]!.slice(0, 30)}`);
    expect(found.body.jobs.map((j: Json) => j.id)).to.deep.equal([okIds[2]]);
  });

  it('GET /api/jobs?args=false lists the records without their arguments, and the store is not asked for them', async () => {
    const store = client.kernel.resolve('resultStore');
    const filters: Json[] = [];
    const listJobs = store.listJobs.bind(store);
    store.listJobs = (f) => { filters.push({ ...f }); return listJobs(f); };
    const d2 = await mount(client);
    try {
      const full = await get(`${d2.url}/api/jobs?task=dash.ok&limit=2`);
      expect(full.body.jobs[0].args).to.deep.equal([6]);
      filters.length = 0;
      const bare = await get(`${d2.url}/api/jobs?task=dash.ok&limit=2&args=false`);
      expect(bare.body.jobs.map((j: Json) => j.id)).to.deep.equal(full.body.jobs.map((j: Json) => j.id));
      expect(bare.body.jobs[0]).to.include({ taskName: 'dash.ok', status: 'SUCCESS' }).and.not.have.property('args');
      // The overview (latest failures) shows no arguments either.
      expect((await get(`${d2.url}/api/stats`)).status).to.equal(200);
      expect(filters).to.not.be.empty;
      for (const f of filters) expect(f.withArgs, JSON.stringify(f)).to.equal(false);
      const bad = await get(`${d2.url}/api/jobs?args=no`);
      expect(bad.status).to.equal(400);
      expect(bad.body.error.message).to.contain('args="no" must be true or false');
    } finally {
      store.listJobs = listJobs;
      await d2.close();
    }
  });

  it('refuses a bad filter with 400 naming the parameter', async () => {
    const r = await get(`${d.url}/api/jobs?status=DONE`);
    expect(r.status).to.equal(400);
    expect(r.body.error.code).to.equal('NUVOM_E_USAGE');
    expect(r.body.error.message).to.contain('status="DONE"');
    const c = await get(`${d.url}/api/jobs?cursor=garbage`);
    expect(c.status).to.equal(400);
    expect(c.body.error.message).to.contain('nextCursor');
  });

  it('GET /api/jobs/:id gives the record as inspect --format json prints it; 404 for an unknown id', async () => {
    const r = await get(`${d.url}/api/jobs/${failedId}`);
    expect(r.body).to.deep.equal(JSON.parse(JSON.stringify(await client.getJob(failedId))));
    expect(r.body.error.stack).to.contain('TypeError: boom');
    const none = await get(`${d.url}/api/jobs/no-such-job`);
    expect(none.status).to.equal(404);
    expect(none.body.error.code).to.equal('NUVOM_E_JOB_NOT_FOUND');
  });

  it('refuses a POST without the CSRF token, and one from another origin', async () => {
    const csrf = (await get(`${d.url}/api/csrf`)).body.csrf as string;
    const none = await get(`${d.url}/api/jobs/${failedId}/retry`, { method: 'POST' });
    expect(none.status).to.equal(403);
    expect(none.body.error.code).to.equal('NUVOM_E_DASHBOARD_FORBIDDEN');
    const cross = await get(`${d.url}/api/jobs/${failedId}/retry`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf, origin: 'http://evil.example' } });
    expect(cross.status).to.equal(403);
    expect(cross.body.error.message).to.contain('evil.example');
    expect((await client.getJob(failedId))!.status).to.equal('FAILED');
  });

  it('POST /api/jobs/:id/retry with the token runs the failed job again to its outcome', async () => {
    const before = (await client.getJob(failedId))!.completedAt;
    const csrf = (await get(`${d.url}/api/csrf`)).body.csrf as string;
    const r = await get(`${d.url}/api/jobs/${failedId}/retry`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf, origin: d.url } });
    expect(r.status).to.equal(200);
    await waitFor(async () => { const j = await client.getJob(failedId); return j!.status === 'FAILED' && j!.completedAt !== before; }, { timeoutMs: 20_000, what: 'the retried job to fail again' });
  });

  it('POST /api/jobs/:id/cancel of a finished job is a 409 naming the allowed states', async () => {
    const csrf = (await get(`${d.url}/api/csrf`)).body.csrf as string;
    const r = await get(`${d.url}/api/jobs/${okIds[0]}/cancel`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf } });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('NUVOM_E_JOB_STATE');
  });

  it('GET /api/schedules and /api/workers answer with lists', async () => {
    expect((await get(`${d.url}/api/schedules`)).body.schedules).to.be.an('array');
    expect((await get(`${d.url}/api/workers`)).body.workers).to.be.an('array');
  });

  it('GET /api/schedules lists a stored row whose time no Date can hold (an older nuvom stored it) with no time, and the others', async () => {
    const scheduler = client.kernel.resolve('scheduler');
    const good = await scheduler.schedule({ name: 'dash.ok', options: {} }, { everySecs: 3600 }, [1]);
    const store = client.kernel.resolve('scheduleStore');
    const entry = (await store.list({ includeFinished: true })).find((e) => e.id === good.id)!;
    await store.add({ ...entry, id: 'stored-by-an-older-nuvom', nextRunAt: 1e20 });
    const r = await get(`${d.url}/api/schedules`);
    expect(r.status).to.equal(200);
    const rows = r.body.schedules as Json[];
    expect(rows.find((e) => e.id === 'stored-by-an-older-nuvom')).to.include({ nextRunAt: null });
    expect(rows.find((e) => e.id === good.id)!.nextRunAt).to.be.a('string');
    await scheduler.cancel('stored-by-an-older-nuvom');
  });

  it('streams a stats event on /api/stream', async () => {
    const ac = new AbortController();
    const r = await fetch(`${d.url}/api/stream`, { signal: ac.signal });
    expect(r.headers.get('content-type')).to.equal('text/event-stream');
    const reader = r.body!.getReader();
    let text = '';
    while (!text.includes('event: stats')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    expect(text).to.contain('"SUCCESS":7');
  });

  it('read-only mode refuses actions with 403', async () => {
    const ro = await mount(client, { readOnly: true });
    try {
      const csrf = (await get(`${ro.url}/api/csrf`)).body.csrf as string;
      const r = await get(`${ro.url}/api/jobs/${failedId}/retry`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf } });
      expect(r.status).to.equal(403);
      expect(r.body.error.message).to.contain('read-only');
    } finally { await ro.close(); }
  });

  it('with a token, refuses requests without it (401) and serves those with it; basePath mounts under a prefix', async () => {
    const t = await mount(client, { auth: { token: 's3cret' }, basePath: '/admin/jobs' });
    try {
      expect((await fetch(`${t.url}/admin/jobs/api/stats`)).status).to.equal(401);
      const ok = await get(`${t.url}/admin/jobs/api/stats`, { headers: { authorization: 'Bearer s3cret' } });
      expect(ok.status).to.equal(200);
      expect((await fetch(`${t.url}/api/stats`, { headers: { authorization: 'Bearer s3cret' } })).status).to.equal(404);
      const page = await fetch(`${t.url}/admin/jobs/`, { headers: { authorization: 'Bearer s3cret' } });
      expect(await page.text()).to.contain('const BASE = "/admin/jobs"');
    } finally { await t.close(); }
  });

  it('nuvom dashboard on loopback without credentials answers only to loopback names (DNS rebinding), and no page may be framed', async () => {
    const s = await serveDashboard(client, { host: '127.0.0.1', port: 0, readOnly: false, auth: {} });
    const port = new URL(s.url).port;
    // A page whose name was rebound to 127.0.0.1 sends its own name as Host (fetch cannot set Host: node:http can).
    const withHost = (host: string, path = '/api/stats') => new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => { res.resume(); resolve({ status: res.statusCode!, headers: res.headers }); }).on('error', reject).end();
    });
    try {
      expect((await withHost(`attacker.example:${port}`)).status).to.equal(403);
      expect((await withHost(`attacker.example:${port}`, '/api/csrf')).status).to.equal(403);
      for (const h of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) expect((await withHost(h)).status, h).to.equal(200);
      const page = await withHost(`127.0.0.1:${port}`, '/');
      expect(page.headers['x-frame-options']).to.equal('DENY');
      expect(page.headers['content-security-policy']).to.contain("frame-ancestors 'none'");
    } finally {
      await s.close();
    }
    // With credentials (reachable under other names), the Host is not checked.
    const t = await serveDashboard(client, { host: '127.0.0.1', port: 0, readOnly: false, auth: { token: 'tk' } });
    try {
      const r = await new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port: new URL(t.url).port, path: '/api/stats', headers: { host: 'jobs.internal', authorization: 'Bearer tk' } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject).end();
      });
      expect(r).to.equal(200);
    } finally {
      await t.close();
    }
  });

  it('a cookie left from an older token does not hide the new one in the URL', async () => {
    const t = await mount(client, { auth: { token: 'new-token' } });
    try {
      const r = await fetch(`${t.url}/?token=new-token`, { headers: { cookie: 'nuvom_dashboard_token=old-token' } });
      expect(r.status).to.equal(200);
    } finally { await t.close(); }
  });

  it('refuses to listen on a non-loopback address without credentials, naming the fix', async () => {
    try {
      await serveDashboard(client, { host: '0.0.0.0', port: 0, readOnly: false, auth: {} });
      expect.fail('it listened');
    } catch (err) {
      expect(isNuvomError(err, 'NUVOM_E_CONFIG')).to.equal(true);
      expect((err as Error).message).to.contain('token');
    }
    const s = await serveDashboard(client, { host: '0.0.0.0', port: 0, readOnly: false, auth: { token: 't' } });
    await s.close();
  });

  it('GET /api/stats gives completions per minute over the hour and per 15 minutes over the day, and p50/p95 run times by task', async () => {
    const { body } = await get(`${d.url}/api/stats`);
    const sum = (b: Json[], k: string) => b.reduce((n, x) => n + (x[k] as number), 0);
    expect(body.throughputLastHour.length).to.be.within(60, 62);
    expect(body.throughputLastDay.length).to.be.within(96, 98);
    expect(body.throughputLastHour[1].at - body.throughputLastHour[0].at).to.equal(60_000);
    for (const b of [body.throughputLastHour, body.throughputLastDay]) {
      expect(sum(b, 'success')).to.equal(body.byStatus.SUCCESS);
      expect(sum(b, 'failed')).to.equal(body.byStatus.FAILED);
    }
    const ok = (body.runTimes as Json[]).find((r) => r.task === 'dash.ok')!;
    expect(ok).to.include({ n: 7 });
    expect(ok.p50).to.be.at.least(0).and.at.most(ok.p95);
  });

  it('serves uPlot from the package, not a CDN', async () => {
    const js = await fetch(`${d.url}/assets/uplot.js`);
    expect(js.status).to.equal(200);
    expect(js.headers.get('content-type')).to.contain('javascript');
    expect(await js.text()).to.contain('uPlot');
    expect((await fetch(`${d.url}/assets/uplot.css`)).headers.get('content-type')).to.contain('text/css');
    const page = await (await fetch(`${d.url}/`)).text();
    expect(page).not.to.match(/https?:\/\/(?!127\.0\.0\.1)/);
  });

  it('GET /api/plugins lists the plugins, services and settings with their sources, secrets masked', async () => {
    const r = await fetch(`${d.url}/api/plugins`);
    const text = await r.text();
    expect(text).not.to.contain('hunter2');
    const body = JSON.parse(text) as Json;
    expect(body.plugins.map((p: Json) => p.name)).to.include.members(['nuvom-dashboard', 'nuvom-sqlite']);
    expect(body.services.resultStore.selected).to.equal('sqlite');
    expect(body.config.find((c: Json) => c.key === 'resultBackend')).to.include({ value: 'sqlite', source: 'flag' });
    expect(body.pluginSettings['nuvom-dashboard']).to.deep.equal({ user: 'ops', password: MASK });
    expect(body.pluginSettings.audit).to.deep.equal({ dsn: `postgres://app:${MASK}@db.internal:5432/jobs`, api_key: MASK, level: 'info' });
  });

  it('masks secrets by key name at any depth and passwords in URLs, and leaves the rest as it is', () => {
    expect(maskSecrets({ token: 't', nested: { clientSecret: 's', list: [{ password: 'p' }], readonly: true }, port: 9160, empty: '' })).to.deep.equal({
      token: MASK, nested: { clientSecret: MASK, list: [{ password: MASK }], readonly: true }, port: 9160, empty: '' });
    expect(maskSecrets('redis://:pw@h:6379/0')).to.equal(`redis://:${MASK}@h:6379/0`);
    expect(maskSecrets('https://ghp_abc@example.org/x')).to.equal(`https://${MASK}@example.org/x`);
    expect(maskSecrets('postgres://app@db.internal:5432/jobs')).to.equal('postgres://app@db.internal:5432/jobs');
    expect(maskSecrets('.nuvom/nuvom.db')).to.equal('.nuvom/nuvom.db');
    expect(maskSecrets({ authToken: null })).to.deep.equal({ authToken: null });
  });

  it('POST /api/schedules/:id/cancel cancels a schedule with the CSRF token; refused without it, in read-only mode, 409 once cancelled, 404 for an unknown id', async () => {
    const scheduler = client.kernel.resolve('scheduler');
    const h = await scheduler.schedule({ name: 'dash.ok', options: {} }, { everySecs: 3600 }, [1]);
    const csrf = (await get(`${d.url}/api/csrf`)).body.csrf as string;
    const status = async () => ((await get(`${d.url}/api/schedules`)).body.schedules as Json[]).find((e) => e.id === h.id)!.status as string;
    expect((await get(`${d.url}/api/schedules/${h.id}/cancel`, { method: 'POST' })).status).to.equal(403);
    const ro = await mount(client, { readOnly: true });
    try {
      expect((await get(`${ro.url}/api/schedules/${h.id}/cancel`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf } })).status).to.equal(403);
    } finally { await ro.close(); }
    expect(await status()).to.equal('ACTIVE');
    const r = await get(`${d.url}/api/schedules/${h.id}/cancel`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf, origin: d.url } });
    expect(r.status).to.equal(200);
    expect(await status()).to.equal('CANCELLED');
    const again = await get(`${d.url}/api/schedules/${h.id}/cancel`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf } });
    expect(again.status).to.equal(409);
    expect(again.body.error).to.deep.equal({ code: 'NUVOM_E_SCHEDULE_INVALID', message: `schedule "${h.id}" is already CANCELLED; only ACTIVE schedules can be cancelled` });
    const none = await get(`${d.url}/api/schedules/no-such-schedule/cancel`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf } });
    expect(none.status).to.equal(404);
    expect(none.body.error.code).to.equal('NUVOM_E_SCHEDULE_NOT_FOUND');
  });
});

describe('dashboard: chart and run times over a store without the insights contract (memory)', function () {
  this.timeout(60_000);
  let client: Client;
  let d: Awaited<ReturnType<typeof mount>>;
  before(async () => {
    const dir = await monitoringProject('dashm', '');
    client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'memory', resultBackend: 'memory' } });
    await client.startWorker({ threads: 1 });
    for (let i = 0; i < 3; i++) await settledJob(client, (await client.enqueue('dashm.ok', [i])).id);
    await settledJob(client, (await client.enqueue('dashm.boom', [])).id);
    d = await mount(client);
  });
  after(async () => {
    await d?.close();
    await client?.close();
    cleanupTempProjects();
  });

  it('reads them from the newest completed records through listJobs', async () => {
    const { body } = await get(`${d.url}/api/stats`);
    const sum = (k: string) => (body.throughputLastHour as Json[]).reduce((n, x) => n + (x[k] as number), 0);
    expect([sum('success'), sum('failed')]).to.deep.equal([3, 1]);
    expect((body.runTimes as Json[]).map((r) => [r.task, r.n])).to.deep.equal([['dashm.boom', 1], ['dashm.ok', 3]]);
  });
});
