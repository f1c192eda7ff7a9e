/**
 * The dashboard's one HTML page: overview, jobs, job detail, failures, schedules and workers, routed on the
 * client by location.hash-free paths and kept live by the change stream (/api/stream), which the
 * page closes while the tab is hidden. No CDN, no build step: plain DOM code in the package.
 * Must never: put data into innerHTML. Every value goes in with textContent, so HTML in a task name,
 * argument or error renders as text.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>nuvom dashboard</title>
<style>
:root { color-scheme: light dark; --bg:#fff; --fg:#1b1f24; --mute:#6a737d; --line:#d8dee4; --bad:#c62828; --ok:#2e7d32; --acc:#0b61c4; }
@media (prefers-color-scheme: dark) { :root { --bg:#0d1117; --fg:#e6edf3; --mute:#8b949e; --line:#30363d; --bad:#f85149; --ok:#3fb950; --acc:#58a6ff; } }
body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; gap:1rem; align-items:center; padding:.6rem 1rem; border-bottom:1px solid var(--line); }
header b { font-size:1.1rem; } nav a { margin-right:.8rem; color:var(--acc); text-decoration:none; }
main { padding:1rem; max-width:1100px; } table { border-collapse:collapse; width:100%; } td, th { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; word-break:break-word; }
.cards { display:flex; flex-wrap:wrap; gap:.6rem; } .card { border:1px solid var(--line); border-radius:6px; padding:.5rem .8rem; min-width:7rem; }
.card span { display:block; font-size:1.4rem; } .FAILED, .stale { color:var(--bad); } .SUCCESS { color:var(--ok); } .mute { color:var(--mute); }
pre { white-space:pre-wrap; background:color-mix(in srgb, var(--fg) 6%, transparent); padding:.5rem; border-radius:4px; }
button { font:inherit; padding:.3rem .8rem; margin-right:.5rem; } input, select { font:inherit; padding:.2rem; }
</style></head>
<body><header><b>nuvom</b><nav><a href="./">overview</a><a href="jobs">jobs</a><a href="failures">failures</a><a href="schedules">schedules</a><a href="workers">workers</a></nav><span id="live" class="mute"></span></header>
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

async function overview() {
  const s = await api('/api/stats');
  const cards = el('div', { class: 'cards' }, ...Object.entries(s.byStatus).map(([k, v]) => el('div', { class: 'card', 'data-count': k }, k, el('span', { class: k }, v))));
  const backlog = Object.entries(s.byTask).map(([t, c]) => [t, (c.PENDING || 0) + (c.RETRYING || 0), c.RUNNING || 0, c.FAILED || 0]);
  return [el('h2', {}, 'Overview'), cards,
    el('p', { class: 'mute' }, 'completed last hour: ' + s.completedLastHour + ' · last day: ' + s.completedLastDay + ' · oldest pending: ' + (s.oldestPendingAt || '-')),
    el('h3', {}, 'Backlog by task'), table(['task', 'waiting', 'running', 'failed'], backlog),
    el('h3', {}, 'Latest failures'), table(['job', 'task', 'error', 'when'], s.latestFailures.map((f) => [link(f), f.taskName, f.message, f.at]))];
}
async function jobs(params) {
  const q = new URLSearchParams(params);
  const page = await api('/api/jobs?' + q);
  const form = el('form', {}, el('input', { name: 'q', placeholder: 'id or id prefix', value: q.get('q') || '' }), ' ',
    el('select', { name: 'status' }, el('option', { value: '' }, 'any status'), ...['PENDING', 'RUNNING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELLED'].map((s) => { const o = el('option', { value: s }, s); if (q.get('status') === s) o.selected = true; return o; })), ' ',
    el('input', { name: 'task', placeholder: 'task', value: q.get('task') || '' }), ' ', el('input', { name: 'tag', placeholder: 'tag', value: q.get('tag') || '' }), ' ', el('button', {}, 'filter'));
  form.addEventListener('submit', (e) => { e.preventDefault(); const f = new URLSearchParams(); for (const [k, v] of new FormData(form)) if (v) f.set(k, v); go(BASE + '/jobs?' + f); });
  const out = [el('h2', {}, 'Jobs'), form, table(['job', 'task', 'status', 'attempts', 'created'], page.jobs.map((r) => [link(r), r.taskName, status(r.status), r.attempts, r.createdAt]))];
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
  const page = await api('/api/jobs?status=FAILED&limit=200');
  const groups = new Map();
  for (const r of page.jobs) { const k = r.taskName + '\\u0000' + ((r.error && r.error.message) || '').split('\\n')[0]; if (!groups.has(k)) groups.set(k, []); groups.get(k).push(r); }
  return [el('h2', {}, 'Failures'), table(['task', 'error', 'jobs', ''], [...groups.values()].map((g) => [g[0].taskName, ((g[0].error && g[0].error.message) || '').split('\\n')[0], g.length,
    READONLY ? '' : el('button', { on: { click: async () => { for (const r of g) await api('/api/jobs/' + encodeURIComponent(r.id) + '/retry', { method: 'POST', headers: { 'x-nuvom-csrf': CSRF } }).catch(() => {}); render(); } } }, 'retry all')]))];
}
async function schedules() {
  const s = await api('/api/schedules');
  return [el('h2', {}, 'Schedules'), table(['id', 'task', 'trigger', 'status', 'next', 'last'], s.schedules.map((e) => [e.id.slice(0, 8), e.taskName, e.cron || (e.everySecs ? 'every ' + e.everySecs + 's' : 'once'), e.status, e.nextRunAt || '-', e.lastRunAt || '-']))];
}
async function workers() {
  const w = await api('/api/workers');
  if (!w.workers.length) return [el('h2', {}, 'Workers'), el('p', { class: 'mute' }, 'no workers: none has written a heartbeat to this result store')];
  return [el('h2', {}, 'Workers'), table(['worker', 'host', 'pid', 'threads busy', 'jobs/s', 'started', 'last heartbeat', 'state'], w.workers.map((x) => [x.workerId, x.host, x.pid, x.busyThreads + '/' + x.threads, x.jobsPerSec, x.startedAt, x.lastBeatAt, el('span', { class: x.state }, x.state)])),
    el('p', { class: 'mute' }, 'stale: no heartbeat for 3 periods (killed, hung or cut off from the store); a worker that stops normally disappears')];
}
async function render() {
  const p = location.pathname.slice(BASE.length) || '/';
  try {
    const parts = p.startsWith('/jobs/') ? await job(decodeURIComponent(p.slice(6))) : p.startsWith('/jobs') ? await jobs(location.search.slice(1))
      : p === '/failures' ? await failures() : p === '/schedules' ? await schedules() : p === '/workers' ? await workers() : await overview();
    main.replaceChildren(...parts);
  } catch (e) { main.replaceChildren(el('p', { class: 'FAILED' }, e.message)); }
}
function go(href) { history.pushState(null, '', href); render(); }
addEventListener('popstate', render);
let es = null;
function live() {
  if (document.hidden) { if (es) { es.close(); es = null; document.getElementById('live').textContent = 'paused'; } return; }
  if (es) return;
  es = new EventSource(BASE + '/api/stream');
  es.addEventListener('stats', () => { document.getElementById('live').textContent = 'live'; render(); });
}
document.addEventListener('visibilitychange', live);
// Heartbeats do not move the stats the stream watches: the workers page polls, only while visible.
setInterval(() => { if (!document.hidden && location.pathname.slice(BASE.length) === '/workers') render(); }, 5000);
render(); live();
</script></body></html>
`;
