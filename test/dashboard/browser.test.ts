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
    const handler = dashboardHandler(client, { streamIntervalMs: 200 });
    const server = createServer(handler);
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
});
