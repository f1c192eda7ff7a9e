/**
 * What a dashboard left open costs the process serving it: a child process serves the dashboard over
 * a SQLite store of --records job records; this process acts as an open overview tab (the change
 * stream, plus GET /api/stats on each `stats` event, as the page does) for --secs seconds, and the
 * child reports its own process.cpuUsage() over that time, against the same time with no dashboard
 * open. `--busy` also writes a record every 200 ms from this process, so the counts change on every
 * tick and the page re-reads the overview every 2 s (the worst case).
 *   node --import tsx bench/dashboard-cpu.ts [--records 100000] [--secs 60] [--busy]
 * Must never: be used as a test assertion.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '../sdk/index.ts';
import { dashboardHandler } from '../builtin-plugins/dashboard/index.ts';
import type { JobRecord } from '../sdk/plugin.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const config = { queueBackend: 'sqlite', resultBackend: 'sqlite' };

function record(j: number, now: number): JobRecord {
  const at = new Date(now - 1000).toISOString();
  const status = j % 10 === 7 ? 'FAILED' : 'SUCCESS';
  return {
    id: `cpu-${now}-${j}`, taskName: `task.${j % 20}`, args: [j], status, attempts: 1, maxRetries: 0, retriesLeft: 0, priority: 0, tags: [],
    createdAt: at, startedAt: at, completedAt: new Date(now).toISOString(), nextRunAt: null, result: j,
    error: status === 'FAILED' ? { name: 'Error', message: 'failure', stack: null } : null, timeoutSecs: 0, timeoutPolicy: 'retry', workerId: null,
  };
}

/** The serving child: prints its URL, then answers "measure" with its CPU time over the asked window. */
async function serve(dir: string): Promise<void> {
  const client = await createClient({ cwd: dir, env: {}, logger: quiet, config });
  const handler = dashboardHandler(client);
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let from = process.cpuUsage(), t0 = performance.now();
  process.on('message', async (m: string) => {
    if (m === 'start') { from = process.cpuUsage(); t0 = performance.now(); process.send!('started'); }
    if (m === 'stop') {
      const d = process.cpuUsage(from);
      process.send!({ cpuMs: (d.user + d.system) / 1000, wallMs: performance.now() - t0 });
    }
    if (m === 'exit') { handler.close(); server.closeAllConnections(); server.close(); await client.close(); process.exit(0); }
  });
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

async function main(): Promise<void> {
  const records = arg('--records', 100_000), secs = arg('--secs', 60), busy = process.argv.includes('--busy');
  const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-bench-dashcpu-'));
  const writer = await createClient({ cwd: dir, env: {}, logger: quiet, config });
  try {
    const store = writer.kernel.resolve('resultStore');
    const now = Date.now();
    for (let i = 0; i < records; i += 20_000) await store.putMany(Array.from({ length: Math.min(20_000, records - i) }, (_, k) => record(i + k, now - (records - i - k) * 10)));
    const child = fork(fileURLToPath(import.meta.url), ['--serve', dir], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const next = () => new Promise<Record<string, unknown> | string>((r) => child.once('message', (m) => r(m as Record<string, unknown> | string)));
    const { url } = (await next()) as { url: string };
    const measure = async (open: boolean) => {
      let writes = 0, reads = 0;
      const ac = new AbortController();
      const timer = busy ? setInterval(() => { void store.put(record(writes++, Date.now())); }, 200) : null;
      child.send('start');
      await next();
      if (open) {
        // The overview tab: the page and its first /api/stats, then one /api/stats per stats event.
        for (const p of ['/', '/assets/uplot.js', '/api/stats']) await (await fetch(url + p)).arrayBuffer();
        void (async () => {
          try {
            const r = await fetch(`${url}/api/stream`, { signal: ac.signal });
            const reader = r.body!.getReader();
            const dec = new TextDecoder();
            let buf = '';
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buf += dec.decode(value);
              while (buf.includes('\n\n')) {
                const ev = buf.slice(0, buf.indexOf('\n\n'));
                buf = buf.slice(buf.indexOf('\n\n') + 2);
                if (ev.startsWith('event: stats')) { reads++; await (await fetch(`${url}/api/stats`)).arrayBuffer(); }
              }
            }
          } catch { /* aborted at the end */ }
        })();
      }
      await new Promise((r) => setTimeout(r, secs * 1000)); // a timed window: this is a benchmark, not a test
      child.send('stop');
      const m = (await next()) as { cpuMs: number; wallMs: number };
      ac.abort();
      if (timer) clearInterval(timer);
      return { ...m, reads, pct: (100 * m.cpuMs) / m.wallMs };
    };
    const idle = await measure(false);
    const open = await measure(true);
    const line = (what: string, m: typeof idle) => `${what}: ${m.cpuMs.toFixed(0)} ms CPU in ${(m.wallMs / 1000).toFixed(1)} s = ${m.pct.toFixed(2)}% of one core${m.reads ? ` (${m.reads} overview reloads)` : ''}`;
    process.stdout.write(`${records.toLocaleString('en-US')} records, ${busy ? 'busy (a record written every 200 ms)' : 'idle store'}\n`);
    process.stdout.write(`${line('no dashboard open', idle)}\n${line('overview open', open)}\n`);
    process.stdout.write(`added by the open dashboard: ${(open.pct - idle.pct).toFixed(2)}% of one core\n`);
    child.send('exit');
    await new Promise((r) => child.once('exit', r));
  } finally {
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const s = process.argv.indexOf('--serve');
if (s > 0) await serve(process.argv[s + 1]!);
else await main();
