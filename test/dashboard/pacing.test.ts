/**
 * The dashboard's load on the store is bounded whatever the number of open tabs: GET /api/stats is
 * computed once for every tab and reused while younger than ten times its cost, the change stream's
 * polls never overlap and wait ten times their cost, and a change (made through the dashboard, or
 * seen by the stream) makes the next read fresh.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from '../../sdk/index.ts';
import { dashboardHandler, type DashboardHandler, type DashboardSource } from '../../builtin-plugins/dashboard/index.ts';
import { COST_FACTOR, Paced } from '../../builtin-plugins/dashboard/pacing.ts';
import { memoryLogger } from '../helpers/tmp.ts';
import { settledJob } from '../helpers/client.ts';
import { cleanupTempProjects, monitoringProject, waitFor } from '../monitoring/helpers.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test-side JSON

/** The client as a dashboard source whose stats() is counted, and slowed or clock-advanced as a test asks. */
function countingSource(client: Client, onStats: () => Promise<void> | void): { src: DashboardSource; calls: number[]; inFlight: { now: number; max: number } } {
  const calls: number[] = [];
  const inFlight = { now: 0, max: 0 };
  const stats = async (since?: number) => {
    calls.push(Date.now());
    inFlight.now++;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    try {
      await onStats();
      return await client.stats(since);
    } finally {
      inFlight.now--;
    }
  };
  const src = new Proxy(client, {
    get(target, key) {
      if (key === 'stats') return stats;
      const v = Reflect.get(target, key) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as DashboardSource;
  return { src, calls, inFlight };
}

async function mount(src: DashboardSource, opts: Parameters<typeof dashboardHandler>[1]): Promise<{ url: string; handler: DashboardHandler; close(): Promise<void> }> {
  const handler = dashboardHandler(src, opts);
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, handler, close: () => new Promise((r) => { handler.close(); server.closeAllConnections(); server.close(() => r()); }) };
}

const getJson = async (url: string, init?: RequestInit): Promise<Json> => (await (await fetch(url, init)).json()) as Json;

describe('dashboard: its load on the store is paced by what it costs', function () {
  this.timeout(60_000);
  let client: Client;
  let failedId: string;

  before(async () => {
    const dir = await monitoringProject('pace', '');
    client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    await client.startWorker({ threads: 1 });
    const boom = await client.enqueue('pace.boom', []);
    failedId = boom.id;
    await settledJob(client, boom.id);
    await settledJob(client, (await client.enqueue('pace.ok', [1])).id);
  });
  after(async () => {
    await client?.close();
    cleanupTempProjects();
  });

  it('five tabs asking GET /api/stats at once cost one computation, kept until an action through the dashboard changes the counts', async () => {
    const t = Date.now();
    const { src, calls } = countingSource(client, () => undefined);
    const d = await mount(src, { clock: () => t });
    try {
      const bodies = await Promise.all(Array.from({ length: 5 }, () => getJson(`${d.url}/api/stats`)));
      // One overview reads stats twice (the last hour's and the last day's completions).
      expect(calls.length).to.equal(2);
      for (const b of bodies) expect(b).to.deep.equal(bodies[0]);
      expect(bodies[0]!.byStatus).to.include({ SUCCESS: 1, FAILED: 1 });
      expect(bodies[0]!.asOf).to.equal(new Date(t).toISOString());
      for (let i = 0; i < 5; i++) await getJson(`${d.url}/api/stats`);
      expect(calls.length).to.equal(2);

      const csrf = (await getJson(`${d.url}/api/csrf`)).csrf as string;
      const retried = await fetch(`${d.url}/api/jobs/${failedId}/retry`, { method: 'POST', headers: { 'x-nuvom-csrf': csrf, origin: d.url } });
      expect(retried.status).to.equal(200);
      const after = await getJson(`${d.url}/api/stats`);
      expect(calls.length).to.equal(4);
      // The retried job left FAILED (it waits, runs or has failed again by now): the figures are not the kept ones.
      expect(after.byStatus.FAILED + after.byStatus.PENDING + after.byStatus.RUNNING + after.byStatus.RETRYING).to.equal(1);
      await settledJob(client, failedId);
    } finally {
      await d.close();
    }
  });

  it('reads the overview again once it is older than ten times what it cost', async () => {
    let t = Date.now();
    // Each stats() call moves the clock 300 ms: an overview (two calls) costs 600 ms, so it is kept 6 s.
    const { src, calls } = countingSource(client, () => { t += 300; });
    const d = await mount(src, { clock: () => t });
    try {
      await getJson(`${d.url}/api/stats`);
      expect(calls.length).to.equal(2);
      t += COST_FACTOR * 600 - 100;
      await getJson(`${d.url}/api/stats`);
      expect(calls.length).to.equal(2);
      t += 200;
      await getJson(`${d.url}/api/stats`);
      expect(calls.length).to.equal(4);
    } finally {
      await d.close();
    }
  });

  it('a change the stream announces is in the next GET /api/stats, however young the kept overview', async () => {
    const t = Date.now();
    const { src } = countingSource(client, () => undefined);
    // A clock that never moves: without the stream's word, the overview would be kept for ever.
    const d = await mount(src, { clock: () => t, streamIntervalMs: 20 });
    const ac = new AbortController();
    try {
      const r = await fetch(`${d.url}/api/stream`, { signal: ac.signal });
      const reader = r.body!.getReader();
      let text = '';
      while (!text.includes('event: stats')) text += new TextDecoder().decode((await reader.read()).value);
      const before = await getJson(`${d.url}/api/stats`);
      await settledJob(client, (await client.enqueue('pace.ok', [2])).id);
      const events = () => text.split('event: stats').length - 1;
      const seen = events();
      while (events() === seen) text += new TextDecoder().decode((await reader.read()).value);
      const after = await getJson(`${d.url}/api/stats`);
      expect(after.byStatus.SUCCESS).to.equal(before.byStatus.SUCCESS + 1);
    } finally {
      ac.abort();
      await d.close();
    }
  });

  it('the change stream polls once for every open tab, never two polls at once, each waiting ten times the last one\'s cost', async () => {
    let t = Date.now();
    // Each poll costs 40 ms on the dashboard's clock: the next waits at least 400 ms (the interval is 1 ms).
    const { src, calls, inFlight } = countingSource(client, async () => { t += 40; await new Promise((r) => setImmediate(r)); });
    const d = await mount(src, { clock: () => t, streamIntervalMs: 1 });
    const ac = new AbortController();
    try {
      const tabs = await Promise.all(Array.from({ length: 3 }, () => fetch(`${d.url}/api/stream`, { signal: ac.signal })));
      const firstEvent = await Promise.all(tabs.map(async (r) => {
        const reader = r.body!.getReader();
        let text = '';
        while (!text.includes('event: stats')) text += new TextDecoder().decode((await reader.read()).value);
        return text;
      }));
      for (const text of firstEvent) expect(text).to.contain('"SUCCESS"');
      await waitFor(() => calls.length >= 4, { timeoutMs: 20_000, what: 'four polls of the change stream' });
      expect(inFlight.max).to.equal(1);
      for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).to.be.at.least(COST_FACTOR * 40 - 5);
    } finally {
      ac.abort();
      await d.close();
    }
  });
});

describe('dashboard: Paced', () => {
  it('does not keep a value whose computation began before invalidate()', async () => {
    let n = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const p = new Paced(async () => { const k = ++n; if (k === 1) await gate; return k; }, 60_000, () => 0);
    const first = p.get();
    p.invalidate();
    release();
    expect(await first).to.equal(1);
    expect(await p.get()).to.equal(2);
    expect(await p.get()).to.equal(2);
  });

  it('lets a failed computation be tried again by the next caller', async () => {
    let n = 0;
    const p = new Paced(async () => { if (++n === 1) throw new Error('store down'); return n; }, 60_000, () => 0);
    let err: unknown;
    try { await p.get(); } catch (e) { err = e; }
    expect((err as Error).message).to.equal('store down');
    expect(await p.get()).to.equal(2);
  });
});
