/**
 * End-to-end in Debian's Chromium through playwright-core: a real SQLite store, a real worker, the
 * dashboard served over node:http. Skips with one line only when chromium is absent outside CI.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { createClient, type Client } from '../../sdk/index.ts';
import { dashboardHandler } from '../../builtin-plugins/dashboard/index.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';
import { settledJob } from '../helpers/client.ts';
import { waitFor } from '../monitoring/helpers.ts';

const CHROMIUM = '/usr/bin/chromium';

describe('dashboard in Chromium', function () {
  this.timeout(90_000);
  let client: Client;
  let context: BrowserContext;
  let close: () => Promise<void>;
  let url = '';
  let profile = '';
  let gate = '';
  let failedId = '';
  let scheduleId = '';
  let streams = 0;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing; .ci/run installs it (apt-get install -y chromium)`);
      console.log(`      skipped: ${CHROMIUM} is not installed (apt-get install -y chromium)`);
      this.skip();
    }
    const dir = tempProject({
      'package.json': '{ "type": "module" }',
      'tasks.mjs': `import { existsSync } from 'node:fs';
import { task } from 'nuvom';
export const gated = task({ name: 'dashe2e.gated' }, async (file) => {
  if (!existsSync(file)) throw new Error('<b id="xss">not yet</b>');
  return 'passed the gate';
});
`,
    }, { linkNuvom: true });
    await import(pathToFileURL(path.join(dir, 'tasks.mjs')).href);
    gate = path.join(dir, 'gate');
    client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
    await client.startWorker({ threads: 1 });
    const h = await client.enqueue('dashe2e.gated', [gate]);
    failedId = h.id;
    expect((await settledJob(client, h.id)).status).to.equal('FAILED');
    scheduleId = (await client.kernel.resolve('scheduler').schedule({ name: 'dashe2e.gated', options: {} }, { cron: '0 0 1 1 *' }, [gate])).id;
    const handler = dashboardHandler(client, { streamIntervalMs: 200 });
    // Counts the page's open change streams, to see it close them while hidden.
    const server = createServer((req, res) => {
      if (req.url?.endsWith('/api/stream')) { streams++; res.on('close', () => { streams--; }); }
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    close = () => new Promise((r) => { handler.close(); server.closeAllConnections(); server.close(() => r()); });
    profile = mkdtempSync(path.join(tmpdir(), 'nuvom-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  after(async () => {
    await context?.close();
    await close?.();
    await client?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    cleanupTempProjects();
  });

  it('shows a failed job on the overview, opens it, retries it and watches it succeed without a reload', async () => {
    const page = await context.newPage();
    let loads = 0;
    page.on('load', () => { loads++; });
    await page.goto(url);
    const row = page.locator(`a[data-job="${failedId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await page.locator('[data-status="FAILED"]').waitFor();
    // The error is user data: its markup shows as text, never as an element.
    expect(await page.locator('[data-error]').textContent()).to.contain('<b id="xss">not yet</b>');
    expect(await page.locator('#xss').count()).to.equal(0);
    writeFileSync(gate, '');
    await page.locator('button[data-action="retry"]').click();
    await page.locator('[data-status="SUCCESS"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('main').textContent()).to.contain('passed the gate');
    expect(loads).to.equal(1);
    await page.screenshot({ path: process.env.NUVOM_SCREENSHOTS ? path.join(process.env.NUVOM_SCREENSHOTS, 'job.png') : path.join(profile, 'job.png') });
  });

  it('follows a job whose retry fails again (the counts end where they were), and leaves a filter being typed alone', async () => {
    const h = await client.enqueue('dashe2e.gated', [`${gate}-never`]);
    expect((await settledJob(client, h.id)).status).to.equal('FAILED');
    const page = await context.newPage();
    await page.goto(`${url}jobs/${h.id}`);
    await page.locator('[data-status="FAILED"]').waitFor({ timeout: 15_000 });
    const attempts = () => page.evaluate(`[...document.querySelectorAll('main h3')].find((x) => x.textContent === 'Attempts')?.nextElementSibling?.querySelectorAll('tr').length ?? 0`) as Promise<number>;
    const before = await attempts();
    await page.locator('button[data-action="retry"]').click();
    // The retry runs and fails again: the page shows the new attempt without a reload.
    await waitFor(async () => (await page.locator('[data-status="FAILED"]').count()) === 1 && (await attempts()) > before, { timeoutMs: 20_000, what: 'the page to show the second failure' });
    // A filter being typed survives a change the stream reports.
    await page.goto(`${url}jobs`);
    const input = page.locator('input[name="task"]');
    await input.click();
    await page.keyboard.type('dashe2e');
    const seen = await page.evaluate('document.querySelectorAll("main tr").length') as number;
    const more = await client.enqueue('dashe2e.gated', [gate]);
    await settledJob(client, more.id);
    await page.waitForTimeout(1500); // the stream polls every 200 ms here: several changes would have redrawn the page
    expect(await input.inputValue()).to.equal('dashe2e');
    expect(await page.evaluate('document.activeElement?.getAttribute("name")')).to.equal('task');
    expect(seen).to.be.greaterThan(0);
    await page.close();
  });

  it('draws the throughput chart with uPlot served by the dashboard, and the run times by task', async () => {
    const page = await context.newPage();
    const external: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith(url.replace(/\/$/, ''))) external.push(r.url()); });
    await page.goto(url);
    await page.locator('[data-chart^="last hour"] canvas').first().waitFor({ timeout: 15_000 });
    await page.locator('[data-chart^="last day"] canvas').first().waitFor();
    const box = await page.locator('[data-chart^="last hour"] canvas').first().boundingBox();
    expect(box!.width).to.be.greaterThan(200);
    expect(await page.locator('main').textContent()).to.contain('Run time by task');
    expect(await page.locator('[data-runtimes]').textContent()).to.contain('dashe2e.gated');
    expect(external).to.deep.equal([]);
    await page.close();
  });

  it('cancels a schedule from the schedules page after asking', async () => {
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${url}schedules`);
    await page.locator(`button[data-cancel-schedule="${scheduleId}"]`).click();
    await page.locator('[data-schedule-status="CANCELLED"]').waitFor({ timeout: 15_000 });
    const entry = (await client.listSchedules({ includeFinished: true })).find((e) => e.id === scheduleId);
    expect(entry!.status).to.equal('CANCELLED');
    expect(await page.locator(`button[data-cancel-schedule="${scheduleId}"]`).count()).to.equal(0);
    await page.close();
  });

  it('closes its change stream while the tab is hidden and opens it again when shown', async () => {
    for (const p of context.pages()) await p.close();
    await waitFor(async () => streams === 0, { timeoutMs: 15_000, what: 'the earlier pages to end their streams' });
    const page = await context.newPage();
    await page.goto(url);
    await waitFor(async () => streams === 1, { timeoutMs: 15_000, what: 'the page to open its change stream' });
    // Headless Chromium has no tab to hide: the page is told so as a browser tells it.
    const setHidden = (h: boolean) => page.evaluate(`
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${h} });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${h ? 'hidden' : 'visible'}' });
      document.dispatchEvent(new Event('visibilitychange'));`);
    await setHidden(true);
    await waitFor(async () => streams === 0, { timeoutMs: 15_000, what: 'the hidden page to close its stream' });
    expect(await page.locator('#live').textContent()).to.equal('paused');
    await setHidden(false);
    await waitFor(async () => streams === 1, { timeoutMs: 15_000, what: 'the shown page to open its stream again' });
    await page.close();
    await waitFor(async () => streams === 0, { timeoutMs: 15_000, what: 'the closed page to end its stream' });
  });
});
