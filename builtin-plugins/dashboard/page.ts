/**
 * The dashboard's one HTML page: overview, jobs, job detail, failures, schedules, workers, plugins,
 * routed on the client by location.hash-free paths and kept live by the change stream (/api/stream),
 * which the page closes while the tab is hidden. No CDN, no build step: plain DOM code in the
 * package; the overview's chart is uPlot, loaded on first use from the dashboard's /assets/uplot.js
 * (the installed package's file).
 * Must never: put data into innerHTML. Every value goes in with textContent, so HTML in a task name,
 * argument or error renders as text.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>nuvom dashboard</title><link rel="icon" href="data:,">
<style>
:root { color-scheme: light dark; --bg:#fff; --fg:#1b1f24; --mute:#6a737d; --line:#d8dee4; --bad:#c62828; --ok:#2e7d32; --acc:#0b61c4; }
@media (prefers-color-scheme: dark) { :root { --bg:#0d1117; --fg:#e6edf3; --mute:#8b949e; --line:#30363d; --bad:#f85149; --ok:#3fb950; --acc:#58a6ff; } }
body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; gap:1rem; align-items:center; padding:.6rem 1rem; border-bottom:1px solid var(--line); }
header b { font-size:1.1rem; } nav { display:flex; flex-wrap:wrap; row-gap:.3rem; } nav a { margin-right:.8rem; color:var(--acc); text-decoration:none; }
main { padding:1rem; max-width:1100px; } table { border-collapse:collapse; width:100%; } td, th { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; word-break:break-word; }
.cards { display:flex; flex-wrap:wrap; gap:.6rem; } .card { border:1px solid var(--line); border-radius:6px; padding:.5rem .8rem; min-width:7rem; }
.chart { margin:.4rem 0 1rem; } .chart h4 { margin:.2rem 0; font-weight:normal; }
.card span { display:block; font-size:1.4rem; } .FAILED, .stale { color:var(--bad); } .SUCCESS { color:var(--ok); } .mute { color:var(--mute); }
pre { white-space:pre-wrap; background:color-mix(in srgb, var(--fg) 6%, transparent); padding:.5rem; border-radius:4px; }
button { font:inherit; padding:.3rem .8rem; margin-right:.5rem; } input, select { font:inherit; padding:.2rem; }
</style></head>
<body><header><b>nuvom</b><nav><a href="./">overview</a><a href="jobs">jobs</a><a href="failures">failures</a><a href="schedules">schedules</a><a href="workers">workers</a><a href="plugins">plugins</a></nav><span id="live" class="mute"></span></header>
<main id="main"></main>
<script>
const BASE = __BASE__, CSRF = __CSRF__, READONLY = __RO__;
const main = document.getElementById('main');
document.querySelectorAll('nav a').forEach((a) => a.setAttribute('href', BASE + '/' + (a.getAttribute('href') === './' ? '' : a.getAttribute('href'))));
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f); else e.setAttribute(k, v); }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? '' : String(k)));
  return e;
}
async function api(path, opts) {
  const r = await fetch(BASE + path, opts);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.code + ': ' + body.error.message : r.statusText);
  return body;
}
function table(head, rows) { return el('table', {}, el('tr', {}, ...head.map((h) => el('th', {}, h))), ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))); }
const link = (r) => { const a = el('a', { href: BASE + '/jobs/' + encodeURIComponent(r.id), 'data-job': r.id }, r.id.slice(0, 8) + '…' + r.id.slice(-6)); a.addEventListener('click', (e) => { e.preventDefault(); go(a.href); }); return a; };
const status = (s) => el('span', { class: s, 'data-status': s }, s);

const ms = (v) => v < 1000 ? v + ' ms' : (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
// uPlot (served from the package) is loaded by the overview only; charts are rebuilt on each render.
let uplotReady = null, charts = [];
function loadUplot() {
  uplotReady ??= new Promise((resolve, reject) => {
    const css = el('link', { rel: 'stylesheet', href: BASE + '/assets/uplot.css' });
    const js = el('script', { src: BASE + '/assets/uplot.js' });
    js.onload = resolve; js.onerror = () => { uplotReady = null; reject(new Error('could not load ' + BASE + '/assets/uplot.js')); };
    document.head.append(css, js);
  });
  return uplotReady;
}
async function chart(title, buckets) {
  const box = el('div', { class: 'chart', 'data-chart': title }, el('h4', { class: 'mute' }, title + ': ' + buckets.reduce((n, b) => n + b.success + b.failed, 0) + ' completed'));
  try { await loadUplot(); } catch (e) { box.append(el('p', { class: 'mute' }, e.message)); return box; }
  const css = getComputedStyle(document.documentElement), v = (k) => css.getPropertyValue(k).trim();
  const data = [buckets.map((b) => b.at / 1000), buckets.map((b) => b.success + b.failed), buckets.map((b) => b.failed),
    buckets.map((b) => (b.success + b.failed ? Math.round((1000 * b.failed) / (b.success + b.failed)) / 10 : null))];
  const axis = { stroke: v('--mute'), grid: { stroke: v('--line') }, ticks: { stroke: v('--line') } };
  const opts = { width: Math.max(280, Math.min(1060, main.clientWidth - 20)), height: 170, scales: { rate: { range: [0, 100] } },
    series: [{}, { label: 'completed', stroke: v('--acc'), width: 1.5, points: { show: false } }, { label: 'failed', stroke: v('--bad'), width: 1.5, points: { show: false } },
      { label: 'failure %', scale: 'rate', stroke: v('--mute'), dash: [4, 4], spanGaps: true }],
    axes: [axis, { ...axis, size: 50 }, { ...axis, scale: 'rate', side: 1, size: 50, grid: { show: false }, values: (u, t) => t.map((x) => x + '%') }] };
  charts.push(new uPlot(opts, data, box));
  return box;
}
async function overview() {
  const s = await api('/api/stats');
  const cards = el('div', { class: 'cards' }, ...Object.entries(s.byStatus).map(([k, v]) => el('div', { class: 'card', 'data-count': k }, k, el('span', { class: k }, v))));
  const backlog = Object.entries(s.byTask).map(([t, c]) => [t, (c.PENDING || 0) + (c.RETRYING || 0), c.RUNNING || 0, c.FAILED || 0]);
  return [el('h2', {}, 'Overview'), cards,
    el('p', { class: 'mute' }, 'completed last hour: ' + s.completedLastHour + ' · last day: ' + s.completedLastDay + ' · oldest pending: ' + (s.oldestPendingAt || '-') + ' · as of ' + s.asOf.slice(11, 19) + ' UTC'),
    el('h3', {}, 'Throughput and failure rate'), await chart('last hour, per minute', s.throughputLastHour), await chart('last day, per 15 minutes', s.throughputLastDay),
    el('h3', {}, 'Run time by task'), el('div', { 'data-runtimes': '' }, s.runTimes.length ? table(['task', 'p50', 'p95', 'over'], s.runTimes.map((r) => [r.task, ms(r.p50), ms(r.p95), r.n + ' newest completed'])) : el('p', { class: 'mute' }, 'no completed jobs yet')),
    el('h3', {}, 'Backlog by task'), table(['task', 'waiting', 'running', 'failed'], backlog),
    el('h3', {}, 'Latest failures'), table(['job', 'task', 'error', 'when'], s.latestFailures.map((f) => [link(f), f.taskName, f.message, f.at]))];
}
async function jobs(params) {
  const q = new URLSearchParams(params);
  const page = await api('/api/jobs?args=false&' + q);
  const form = el('form', {}, el('input', { name: 'q', placeholder: 'id or id prefix', value: q.get('q') || '' }), ' ',
    el('select', { name: 'status' }, el('option', { value: '' }, 'any status'), ...['PENDING', 'RUNNING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELLED'].map((s) => { const o = el('option', { value: s }, s); if (q.get('status') === s) o.selected = true; return o; })), ' ',
    el('input', { name: 'task', placeholder: 'task', value: q.get('task') || '' }), ' ', el('input', { name: 'tag', placeholder: 'tag', value: q.get('tag') || '' }), ' ', el('button', {}, 'filter'));
  form.addEventListener('submit', (e) => { e.preventDefault(); const f = new URLSearchParams(); for (const [k, v] of new FormData(form)) if (v) f.set(k, v); go(BASE + '/jobs?' + f); });
  const out = [el('h2', {}, 'Jobs'), form, table(['job', 'task', 'status', 'attempts', 'created'], page.jobs.map((r) => [link(r), r.taskName, status(r.status), r.attempts, r.createdAt]))];
  // A short page with a next one: the request's scan budget ran out (a rare tag among many records).
  if (page.nextCursor && page.jobs.length < Number(q.get('limit') || 50)) out.push(el('p', { class: 'mute', 'data-short-page': '' }, 'a page searches 5,000 records; the next page searches older ones'));
  if (page.nextCursor) { q.set('cursor', page.nextCursor); const a = el('a', { href: BASE + '/jobs?' + q }, 'next page'); a.addEventListener('click', (e) => { e.preventDefault(); go(a.href); }); out.push(el('p', {}, a)); }
  return out;
}
async function job(id) {
  const r = await api('/api/jobs/' + encodeURIComponent(id));
  const act = (what) => el('button', { 'data-action': what, on: { click: async () => {
    try { await api('/api/jobs/' + encodeURIComponent(id) + '/' + what, { method: 'POST', headers: { 'x-nuvom-csrf': CSRF } }); render(); } catch (e) { alert(e.message); }
  } } }, what);
  const rows = [['id', r.id], ['task', r.taskName], ['status', status(r.status)], ['attempts', r.attempts + ' (max retries ' + r.maxRetries + ', ' + r.retriesLeft + ' left)'],
    ['worker', r.workerId || '-'], ['created', r.createdAt], ['started', r.startedAt || '-'], ['completed', r.completedAt || '-'], ['next run', r.nextRunAt || '-'], ['tags', r.tags.join(', ') || '-']];
  const out = [el('h2', {}, 'Job ', r.id), table(['', ''], rows), el('h3', {}, 'Arguments'), el('pre', {}, JSON.stringify(r.args, null, 2))];
  if (r.status === 'SUCCESS') out.push(el('h3', {}, 'Result'), el('pre', {}, JSON.stringify(r.result, null, 2)));
  if (r.error) out.push(el('h3', {}, 'Error'), el('pre', { class: 'FAILED', 'data-error': '' }, r.error.stack || (r.error.name + ': ' + r.error.message)));
  if (Array.isArray(r.history) && r.history.length) out.push(el('h3', {}, 'Attempts'), table(['attempt', 'detail'], r.history.map((h, i) => [i + 1, JSON.stringify(h)])));
  if (!READONLY) out.push(el('p', {}, ...(['FAILED', 'CANCELLED'].includes(r.status) ? [act('retry')] : []), ...(['PENDING', 'RETRYING', 'RUNNING'].includes(r.status) ? [act('cancel')] : [])));
  return out;
}
async function failures() {
  const page = await api('/api/jobs?status=FAILED&limit=200&args=false');
  const groups = new Map();
  for (const r of page.jobs) { const k = r.taskName + '\\u0000' + ((r.error && r.error.message) || '').split('\\n')[0]; if (!groups.has(k)) groups.set(k, []); groups.get(k).push(r); }
  return [el('h2', {}, 'Failures'), table(['task', 'error', 'jobs', ''], [...groups.values()].map((g) => [g[0].taskName, ((g[0].error && g[0].error.message) || '').split('\\n')[0], g.length,
    READONLY ? '' : el('button', { on: { click: async () => {
      const refused = [];
      for (const r of g) await api('/api/jobs/' + encodeURIComponent(r.id) + '/retry', { method: 'POST', headers: { 'x-nuvom-csrf': CSRF } }).catch((e) => { refused.push(r.id + ': ' + e.message); });
      if (refused.length) alert(refused.length + ' of ' + g.length + ' could not be retried:\\n' + refused.slice(0, 5).join('\\n'));
      render();
    } } }, 'retry all')]))];
}
async function schedules() {
  const s = await api('/api/schedules');
  const cancel = (e) => el('button', { 'data-cancel-schedule': e.id, on: { click: async () => {
    if (!confirm('Cancel the schedule of ' + e.taskName + '? It will not fire again.')) return;
    try { await api('/api/schedules/' + encodeURIComponent(e.id) + '/cancel', { method: 'POST', headers: { 'x-nuvom-csrf': CSRF } }); render(); } catch (err) { alert(err.message); }
  } } }, 'cancel');
  if (!s.schedules.length) return [el('h2', {}, 'Schedules'), el('p', { class: 'mute' }, 'no schedules: make one with task.schedule() (docs/scheduling.md)')];
  return [el('h2', {}, 'Schedules'), table(['id', 'task', 'trigger', 'status', 'next', 'last', ''], s.schedules.map((e) => [e.id.startsWith('key:') ? e.id : e.id.slice(0, 8), e.taskName, (e.cron ? e.cron + (e.timezone ? ' (' + e.timezone + ')' : '') : '') || (e.everySecs ? 'every ' + e.everySecs + 's' : 'once'),
    el('span', { 'data-schedule-status': e.status }, e.status), e.nextRunAt || '-', e.lastRunAt || '-', e.status === 'ACTIVE' && !READONLY ? cancel(e) : '']))];
}
async function workers() {
  const w = await api('/api/workers');
  if (!w.workers.length) return [el('h2', {}, 'Workers'), el('p', { class: 'mute' }, 'no workers: none has written a heartbeat to this result store')];
  return [el('h2', {}, 'Workers'), table(['worker', 'host', 'pid', 'threads busy', 'jobs/s', 'started', 'last heartbeat', 'state'], w.workers.map((x) => [x.workerId, x.host, x.pid, x.busyThreads + '/' + x.threads, x.jobsPerSec, x.startedAt, x.lastBeatAt, el('span', { class: x.state }, x.state)])),
    el('p', { class: 'mute' }, 'stale: no heartbeat for 3 periods (killed, hung or cut off from the store); a worker that stops normally disappears')];
}
async function plugins() {
  const a = await api('/api/plugins');
  const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));
  return [el('h2', {}, 'Plugins'), table(['plugin', 'version', 'source', 'state', 'provides'], a.plugins.map((p) => [p.name, p.version || '-', p.source, p.state, p.provides.join(', ')])),
    el('h3', {}, 'Services'), table(['service', 'selected', 'available'], Object.entries(a.services).map(([t, x]) => [t, x.selected || '-', x.available.join(', ')])),
    el('h3', {}, 'Configuration'), table(['setting', 'value', 'from'], a.config.map((c) => [c.key, show(c.value), c.source + (c.origin ? ' (' + c.origin + ')' : '')])),
    el('h3', {}, 'Plugin settings' + (a.pluginsFile ? ' (' + a.pluginsFile + ')' : '')),
    Object.keys(a.pluginSettings).length ? table(['plugin', 'setting', 'value'], Object.entries(a.pluginSettings).flatMap(([p, kv]) => Object.entries(kv).map(([k, v]) => [p, k, show(v)]))) : el('p', { class: 'mute' }, 'none'),
    el('p', { class: 'mute' }, 'read-only; values under names like token, password, secret or key, and passwords in URLs, are masked')];
}
async function render() {
  const old = charts.splice(0);
  const p = location.pathname.slice(BASE.length) || '/';
  try {
    const parts = p.startsWith('/jobs/') ? await job(decodeURIComponent(p.slice(6))) : p.startsWith('/jobs') ? await jobs(location.search.slice(1))
      : p === '/failures' ? await failures() : p === '/schedules' ? await schedules() : p === '/workers' ? await workers() : p === '/plugins' ? await plugins() : await overview();
    main.replaceChildren(...parts);
  } catch (e) { main.replaceChildren(el('p', { class: 'FAILED' }, e.message)); }
  for (const c of old) c.destroy();
}
function go(href) { history.pushState(null, '', href); render(); }
addEventListener('popstate', render);
let es = null;
function live() {
  if (document.hidden) { if (es) { es.close(); es = null; document.getElementById('live').textContent = 'paused'; } return; }
  if (es) return;
  es = new EventSource(BASE + '/api/stream');
  es.addEventListener('stats', () => {
    document.getElementById('live').textContent = 'live';
    // Not while the user types in a form of the page (a filter): the next change redraws it.
    const a = document.activeElement;
    if (a && main.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) return;
    render();
  });
  es.addEventListener('error', () => { document.getElementById('live').textContent = 'reconnecting'; });
}
document.addEventListener('visibilitychange', live);
// Heartbeats do not move the stats the stream watches: the workers page polls, only while visible.
setInterval(() => { if (!document.hidden && location.pathname.slice(BASE.length) === '/workers') render(); }, 5000);
// Nor does every change of one job (retried and failed again leaves the counts as they were): a job's
// page looks again every 2 s while its job may still change.
setInterval(() => {
  if (document.hidden || !location.pathname.slice(BASE.length).startsWith('/jobs/')) return;
  const st = main.querySelector('[data-status]');
  if (st && !['SUCCESS', 'FAILED', 'CANCELLED'].includes(st.getAttribute('data-status'))) render();
}, 2000);
render(); live();
</script></body></html>
`;
