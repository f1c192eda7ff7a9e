/**
 * Regenerates the screenshots in docs/images/ (run from the repository root:
 * `node --import tsx bench/dashboard-screenshots.ts`). A tool, not a benchmark or a test.
 * Must never: run in `npm test`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { createClient } from '../sdk/index.ts';
import { dashboardHandler } from '../builtin-plugins/dashboard/index.ts';
import { tempProject, memoryLogger, cleanupTempProjects } from '../test/helpers/tmp.ts';
const dir = tempProject({ 'package.json': '{ "type": "module" }', 'tasks.mjs': `import { task } from 'nuvom';
export const send = task({ name: 'email.send', tags: ['mail'] }, async (to) => { if (to.includes('bad')) throw new Error('SMTP 550: mailbox unavailable'); return { sent: to }; });
export const resize = task({ name: 'image.resize' }, async (w) => { if (w > 4000) throw new RangeError('width too large: ' + w); return { w }; });
` }, { linkNuvom: true });
const tasks = await import(pathToFileURL(path.join(dir, 'tasks.mjs')).href);
writeFileSync(path.join(dir, '.nuvom_plugins.toml'), '[settings.nuvom-dashboard]\ntoken = "do-not-show-me"\n\n[settings.audit-log]\nurl = "postgres://app:hunter2@db.internal:5432/jobs"\n');
const client = await createClient({ cwd: dir, env: {}, logger: memoryLogger().logger, config: { queueBackend: 'sqlite', resultBackend: 'sqlite' } });
const w = await client.startWorker({ threads: 1 });
const hs = [];
for (let i = 0; i < 12; i++) hs.push(await client.enqueue('email.send', [i % 4 === 0 ? `bad${i}@x.org` : `user${i}@x.org`]));
for (let i = 0; i < 6; i++) hs.push(await client.enqueue('image.resize', [i === 2 ? 5000 : 800 + i]));
for (const h of hs) await h.result({ timeoutSecs: 20 }).catch(() => undefined);
await w.stop();
for (let i = 0; i < 3; i++) await client.enqueue('email.send', [`later${i}@x.org`]);
await tasks.send.schedule({ cron: '0 7 * * 1-5', timezone: 'Europe/Paris', key: 'weekday-digest' }, 'team@x.org');
await tasks.resize.schedule({ everySecs: 900 }, 1024);
const handler = dashboardHandler(client);
const server = createServer(handler);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const ctx = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'shots-')), { executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1000, height: 700 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await ctx.newPage();
const failed = (await client.listJobs({ status: 'FAILED', limit: 1 }))[0]!;
for (const [name, p, sel] of [['overview', '/', '.uplot canvas'], ['jobs', '/jobs', 'table'], ['job', `/jobs/${failed.id}`, '[data-error]'], ['failures', '/failures', 'table'],
  ['schedules', '/schedules', 'button[data-cancel-schedule]'], ['plugins', '/plugins', 'table']] as const) {
  await page.goto(url + p); await page.locator(sel).first().waitFor();
  await page.screenshot({ path: `docs/images/dashboard-${name}.png`, fullPage: true });
}
await page.emulateMedia({ colorScheme: 'dark' }); await page.setViewportSize({ width: 390, height: 800 });
await page.goto(url + '/'); await page.locator('.uplot canvas').first().waitFor();
await page.screenshot({ path: 'docs/images/dashboard-overview-phone-dark.png', fullPage: true });
await ctx.close(); handler.close(); server.closeAllConnections(); server.close(); await client.close(); cleanupTempProjects();
