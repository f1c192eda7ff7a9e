/**
 * `dashboardHandler(source, { basePath })`: a node:http request handler serving the dashboard's
 * pages and JSON API (docs/dashboard.md). Mount it in an application's own server (Express, Fastify
 * and Koa accept a node:http handler) or let `nuvom dashboard` serve it.
 * Must never: render a user value unescaped (the page sets text, never HTML, from data), or change
 * anything on a GET.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isNuvomError, messageOf, storedIso, type JobRecord } from '../../sdk/plugin.ts';
import { aboutOf } from './about.ts';
import { insightsOf } from './insights.ts';
import { listPage, parseJobsQuery } from './listing.ts';
import { PAGE_HTML } from './page.ts';
import { authorized, hostOf, isLoopback, newCsrfToken, postRefusal, type DashboardAuth } from './security.ts';
import { workersOf, type DashboardSource } from './source.ts';
import { Paced, pollDelay, type Clock } from './pacing.ts';

export interface DashboardOptions {
  /** Where the dashboard is mounted, e.g. "/admin/jobs" (default ""). */
  basePath?: string;
  auth?: DashboardAuth;
  /** Refuse every action (retry, cancel) with 403. */
  readOnly?: boolean;
  /**
   * Serve only requests whose Host header names a loopback address (localhost, 127.x, [::1]): what
   * `nuvom dashboard` sets when it listens on loopback without credentials, so that a web page whose
   * name was rebound to 127.0.0.1 (DNS rebinding) cannot read or act through the operator's browser.
   * A dashboard mounted in an application (behind its own name and auth) leaves it off.
   */
  loopbackHostsOnly?: boolean;
  /**
   * Interval of the change stream's polling of stats, in ms (default 2000); a poll that took t ms
   * waits at least 10 x t before the next (docs/dashboard.md, "Load on the store").
   */
  streamIntervalMs?: number;
  /** @internal The clock the pacing reads (tests). */
  clock?: Clock;
}

export type DashboardHandler = ((req: IncomingMessage, res: ServerResponse, next?: () => void) => void) & { close(): void };

const STATUS_OF: Record<string, number> = { NUVOM_E_USAGE: 400, NUVOM_E_JOB_NOT_FOUND: 404, NUVOM_E_SCHEDULE_NOT_FOUND: 404, NUVOM_E_JOB_STATE: 409 };

/** uPlot's files, served from the installed package (no CDN), read once. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/assets/uplot.js': { file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/assets/uplot.css': { file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};
const assetCache = new Map<string, Buffer>();
function asset(file: string): Buffer {
  let b = assetCache.get(file);
  if (!b) {
    b = readFileSync(path.join(path.dirname(createRequire(import.meta.url).resolve('uplot')), file));
    assetCache.set(file, b);
  }
  return b;
}
const HOUR = 3_600_000, DAY = 86_400_000;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
  res.end(text);
}
const fail = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });

/** A job record as `inspect --format json` prints it (the record itself; `history` when the store has it). */
const shape = (r: JobRecord) => r;

export function dashboardHandler(src: DashboardSource, opts: DashboardOptions = {}): DashboardHandler {
  const base = (opts.basePath ?? '').replace(/\/+$/, '');
  const auth = opts.auth ?? {};
  const csrf = newCsrfToken();
  const listWorkers = workersOf(src);
  const insights = insightsOf(src);
  const streams = new Set<ServerResponse>();
  const interval = opts.streamIntervalMs ?? 2000;
  const clock = opts.clock ?? Date.now;
  let timer: NodeJS.Timeout | null = null;
  let polling = false;
  let closed = false;
  let last = '';

  // One poll for all open streams, only while one is open: an idle dashboard costs nothing. The next
  // poll is scheduled when this one ends, paced by its cost (pollDelay): polls never overlap.
  const tick = async () => {
    polling = true;
    const started = clock();
    try {
      const s = JSON.stringify((await src.stats(clock() - HOUR)).byStatus);
      if (s !== last) {
        // The counts moved: the overview kept for GET /api/stats is stale, and every tab reads it again on this event.
        if (last) overview.invalidate();
        last = s;
        for (const r of streams) r.write(`event: stats\ndata: ${s}\n\n`);
      }
    } catch { /* the next tick tries again; the page keeps its last figures */ }
    polling = false;
    if (streams.size > 0 && !closed) {
      timer = setTimeout(() => { timer = null; void tick(); }, pollDelay(interval, clock() - started + overview.cost));
      timer.unref();
    }
  };
  const openStream = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': nuvom dashboard\n\n');
    streams.add(res);
    res.on('close', () => {
      streams.delete(res);
      if (streams.size === 0 && timer) { clearTimeout(timer); timer = null; }
      if (streams.size === 0) last = '';
    });
    // A stream joining a running poll gets the counts it last saw at once; the first stream starts the poll.
    if (last) res.write(`event: stats\ndata: ${last}\n\n`);
    if (!polling && !timer) void tick();
  };

  // GET /api/stats: one computation serves every tab, reused while younger than 10x its cost (at least 1 s).
  const overview = new Paced(async () => {
    const now = clock();
    const [hour, day, failures, perMinute, perQuarter, runTimes] = await Promise.all([
      src.stats(now - HOUR), src.stats(now - DAY), src.listJobs({ status: 'FAILED', limit: 10, withArgs: false }),
      insights.completions(now - HOUR, 60_000), insights.completions(now - DAY, 15 * 60_000), insights.runTimes(),
    ]);
    return {
      byStatus: day.byStatus, byTask: day.byTask, oldestPendingAt: day.oldestPendingAt,
      completedLastHour: hour.completedSince, completedLastDay: day.completedSince,
      throughputLastHour: perMinute, throughputLastDay: perQuarter, runTimes,
      latestFailures: failures.map((r) => ({ id: r.id, taskName: r.taskName, message: (r.error?.message ?? '').split('\n')[0], at: r.completedAt })),
      asOf: new Date(now).toISOString(),
    };
  }, 1000, clock);

  /** A POST action (the route has checked the method, the CSRF token and read-only). */
  const act = async (schedule: RegExpExecArray | null, action: RegExpExecArray | null, res: ServerResponse): Promise<void> => {
    if (schedule) {
      const sid = decodeURIComponent(schedule[1]!);
      if (await src.cancelSchedule(sid)) return send(res, 200, { cancelled: sid });
      // Not cancelled: one that is no longer ACTIVE is a wrong state (as `nuvom schedule cancel` says), not an unknown id.
      const entry = (await src.listSchedules({ includeFinished: true })).find((e) => e.id === sid || e.key === sid);
      if (entry) return fail(res, 409, 'NUVOM_E_SCHEDULE_INVALID', `schedule "${sid}" is already ${entry.status}; only ACTIVE schedules can be cancelled`);
      return fail(res, 404, 'NUVOM_E_SCHEDULE_NOT_FOUND', `no schedule has id or key "${sid}"; GET /api/schedules lists them`);
    }
    const id = decodeURIComponent(action![1]!);
    if (action![2] === 'retry') return send(res, 200, { job: shape(await src.retryJob(id)) });
    return send(res, 200, { outcome: await src.cancelJob(id) });
  };

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> => {
    const m = req.method ?? 'GET';
    if (m === 'POST') {
      const action = /^\/api\/jobs\/([^/]+)\/(retry|cancel)$/.exec(path);
      const schedule = /^\/api\/schedules\/([^/]+)\/cancel$/.exec(path);
      if (!action && !schedule) return fail(res, 404, 'NUVOM_E_USAGE', `no action at POST ${path}`);
      if (opts.readOnly) return fail(res, 403, 'NUVOM_E_DASHBOARD_FORBIDDEN', 'this dashboard is read-only (readonly = true); actions are disabled');
      const why = postRefusal(req, csrf);
      if (why) return fail(res, 403, 'NUVOM_E_DASHBOARD_FORBIDDEN', why);
      // The action changes the counts: a GET /api/stats after it reads them again.
      try {
        return await act(schedule, action, res);
      } finally {
        overview.invalidate();
      }
    }
    if (m !== 'GET' && m !== 'HEAD') return fail(res, 405, 'NUVOM_E_USAGE', `${m} is not supported; use GET, or POST for actions`);
    if (path === '' || path === '/' || path.startsWith('/jobs') || path === '/failures' || path === '/schedules' || path === '/workers' || path === '/plugins') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
        // No framing (clickjacking: a page of another site that frames the dashboard and lures a click on "retry").
        'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        'x-frame-options': 'DENY',
        ...(auth.token && url.searchParams.get('token') ? { 'set-cookie': `nuvom_dashboard_token=${encodeURIComponent(auth.token)}; HttpOnly; SameSite=Strict; Path=${base || '/'}` } : {}),
      });
      res.end(PAGE_HTML.replace('__BASE__', JSON.stringify(base)).replace('__CSRF__', JSON.stringify(csrf)).replace('__RO__', String(!!opts.readOnly)));
      return;
    }
    if (path === '/api/csrf') return send(res, 200, { csrf });
    const a = ASSETS[path];
    if (a) {
      res.writeHead(200, { 'content-type': a.type, 'cache-control': 'max-age=86400', 'x-content-type-options': 'nosniff' });
      res.end(asset(a.file));
      return;
    }
    if (path === '/api/plugins') return send(res, 200, aboutOf(src));
    if (path === '/api/stats') return send(res, 200, await overview.get());
    if (path === '/api/jobs') return send(res, 200, await listPage(src, parseJobsQuery(url.searchParams)));
    const one = /^\/api\/jobs\/([^/]+)$/.exec(path);
    if (one) {
      const id = decodeURIComponent(one[1]!);
      const r = await src.getJob(id);
      return r ? send(res, 200, shape(r)) : fail(res, 404, 'NUVOM_E_JOB_NOT_FOUND', `no job has id "${id}"; GET /api/jobs lists them`);
    }
    if (path === '/api/schedules') {
      const entries = await src.listSchedules({ includeFinished: true });
      // A time no Date can hold (a row stored by an older nuvom that did not bound `at`) shows as none, not a 500 for every schedule.
      const iso = (n: number | null) => storedIso(n) ?? null;
      return send(res, 200, { schedules: entries.map((e) => ({ id: e.id, taskName: e.taskName, kind: e.kind, everySecs: e.everySecs, cron: e.cron, timezone: e.timezone, status: e.status, nextRunAt: iso(e.nextRunAt), lastRunAt: iso(e.lastRunAt) })) });
    }
    if (path === '/api/workers') return send(res, 200, { workers: await listWorkers() });
    if (path === '/api/stream') {
      // HEAD: the headers alone (a stream opened for it would never end).
      if (m === 'HEAD') { res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }); return void res.end(); }
      return openStream(res);
    }
    return fail(res, 404, 'NUVOM_E_USAGE', `nothing at ${path}; see docs/dashboard.md for the API`);
  };

  const handler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    if (base && url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
      if (next) return next();
      return fail(res, 404, 'NUVOM_E_USAGE', `the dashboard is mounted at ${base}/`);
    }
    if (opts.loopbackHostsOnly && !isLoopback(hostOf(req.headers.host))) {
      return fail(res, 403, 'NUVOM_E_DASHBOARD_FORBIDDEN', `this dashboard answers only to a loopback address (http://127.0.0.1:<port>/), not to Host "${req.headers.host ?? ''}": set credentials (token, or user and password) to reach it under another name`);
    }
    if (!authorized(req, auth, url)) {
      res.setHeader('www-authenticate', auth.basic ? 'Basic realm="nuvom dashboard"' : 'Bearer');
      return fail(res, 401, 'NUVOM_E_DASHBOARD_FORBIDDEN', 'credentials required: send the dashboard token (Authorization: Bearer ...) or the basic-auth user and password');
    }
    route(req, res, url.pathname.slice(base.length), url).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      const code = isNuvomError(err) ? err.code : 'NUVOM_E_STORAGE';
      fail(res, STATUS_OF[code] ?? 500, code, messageOf(err));
    });
  };
  return Object.assign(handler, {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const r of streams) r.end();
      streams.clear();
    },
  });
}
