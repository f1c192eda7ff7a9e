import { expect } from 'chai';
import { cleanupTempProjects, json, killAll, nuvom, project, start, waitFor, type Project } from '../cli/helpers.ts';

interface Worker { workerId: string; host: string; pid: number; threads: number; busyThreads: number; jobsPerSec: number; startedAt: string; lastBeatAt: string; state: 'live' | 'stale' }

// heartbeat_secs = 1: a killed worker turns stale after 3 s instead of 15.
const PLUGINS = '[settings.nuvom-workers]\nheartbeat_secs = 1\n';

describe('nuvom workers and GET /api/workers over a real runworker process (SQLite)', function () {
  this.timeout(120_000);
  let p: Project;
  let dashboardUrl: string;

  before(async () => {
    p = project({ '.nuvom_plugins.toml': PLUGINS });
    // The dashboard shows an existing database (it creates none): a burst run makes it.
    const made = await nuvom(p, ['runworker', '--burst']);
    expect(made.code, made.stderr).to.equal(0);
    const d = start(p, ['dashboard', '--port', '0']);
    dashboardUrl = (await waitFor(() => /nuvom dashboard at (\S+)/.exec(d.output.stdout)?.[1], { timeoutMs: 60_000, what: `the dashboard's URL (stderr: ${d.output.stderr})` }));
  });
  after(() => {
    killAll();
    cleanupTempProjects();
  });

  const cli = () => json<Worker[]>(p, ['workers', '--json']);
  /** As `cli`, but before the worker's first write there is no database yet: `nuvom workers` then says so (exit 1) and creates none. */
  const cliOnceThere = async (): Promise<Worker[]> => {
    const r = await nuvom(p, ['workers', '--json']);
    if (r.code === 1 && r.stderr.includes('NUVOM_E_NO_DATABASE')) return [];
    if (r.code !== 0) throw new Error(`nuvom workers --json exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Worker[];
  };
  const api = async () => ((await (await fetch(new URL('api/workers', dashboardUrl))).json()) as { workers: Worker[] }).workers;
  const find = (list: Worker[], pid: number | undefined) => list.find((w) => w.pid === pid);

  it('shows a running worker live, then stale after SIGKILL, in the CLI and the dashboard', async () => {
    const w = start(p, ['runworker', '--threads', '2']);
    const pid = w.child.pid;
    const seen = await waitFor(async () => find(await cliOnceThere(), pid), { timeoutMs: 60_000, what: `worker ${pid} in nuvom workers --json (stderr: ${w.output.stderr})` });
    expect(seen).to.include({ pid, threads: 2, state: 'live' });
    expect(seen.workerId).to.match(new RegExp(`:${pid}:`));
    expect(find(await api(), pid)).to.include({ workerId: seen.workerId, state: 'live', threads: 2 });

    w.child.kill('SIGKILL');
    await w.done;
    const stale: Worker = await waitFor(async () => { const x = find(await cli(), pid); return x?.state === 'stale' ? x : null; }, { timeoutMs: 30_000, what: 'the killed worker shown stale' });
    expect(stale.workerId).to.equal(seen.workerId);
    await waitFor(async () => find(await api(), pid)?.state === 'stale', { timeoutMs: 30_000, what: 'the killed worker stale in /api/workers' });
    const table = await nuvom(p, ['workers']);
    expect(table.code).to.equal(0);
    expect(table.stdout).to.match(new RegExp(`${pid}.*stale`));
  });

  it('removes the row of a worker that stops gracefully (SIGTERM)', async () => {
    const w = start(p, ['runworker', '--threads', '1']);
    const pid = w.child.pid;
    await waitFor(async () => find(await cliOnceThere(), pid)?.state === 'live', { timeoutMs: 60_000, what: `worker ${pid} live (stderr: ${w.output.stderr})` });
    w.child.kill('SIGTERM');
    const r = await w.done;
    expect(r.code, r.stderr).to.equal(0);
    expect(find(await cli(), pid)).to.equal(undefined);
    expect(find(await api(), pid)).to.equal(undefined);
  });
});
