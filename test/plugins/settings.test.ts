/**
 * Plugin-owned settings (issue 16): a third-party plugin, written only against `nuvom/plugin`,
 * declares `acmeUrl` (NUVOM_ACME_URL). Real `nuvom` processes on a throwaway project.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cleanupTempProjects, nuvom as run, project } from '../cli/helpers.ts';

export const ACME = `
import { appendFileSync } from 'node:fs';
import { definePlugin } from 'nuvom/plugin';

export default definePlugin({
  name: 'acme',
  apiVersion: 1,
  settings: {
    acmeUrl: {
      env: 'NUVOM_ACME_URL', default: 'http://127.0.0.1:9000/', doc: 'where acme reports',
      parse: (raw: unknown) => {
        if (typeof raw !== 'string' || !/^https?:\\/\\//.test(raw)) throw new Error('expected an http(s) URL such as "http://127.0.0.1:9000/"');
        return new URL(raw).href;
      },
    },
  },
  register(ctx) {
    const url: string = ctx.settings.acmeUrl;
    if (process.env.ACME_LOG) appendFileSync(process.env.ACME_LOG, 'register ' + url + '\\n');
  },
  start(settings) {
    if (process.env.ACME_LOG) appendFileSync(process.env.ACME_LOG, 'start ' + settings.acmeUrl + '\\n');
  },
});
`;

interface ConfigJson { settings: Record<string, { value: unknown; source: string; origin?: string; owner?: string }> }

describe('a plugin that declares its own settings', function () {
  this.timeout(60_000);
  after(cleanupTempProjects);

  const acmeProject = (toml = '') => project({
    'plugins/acme.ts': ACME,
    '.nuvom_plugins.toml': `[plugins]\nmonitoring = ["./plugins/acme.ts"]\n${toml}`,
    '.env': 'NUVOM_ACME_URL=http://from-dotenv.example/\n',
  });

  it('takes the value from a real variable over .env, shows it with its source, and hands it to register() and start()', async () => {
    const p = acmeProject();
    const log = path.join(p.dir, 'acme.log');
    const r = await run(p, ['config', '--json'], { NUVOM_ACME_URL: 'http://from-env.example/', ACME_LOG: log });
    expect(r.code, r.stderr).to.equal(0);
    const c = JSON.parse(r.stdout) as ConfigJson;
    expect(c.settings.acmeUrl).to.include({ value: 'http://from-env.example/', source: 'env', origin: 'NUVOM_ACME_URL', owner: 'acme' });
    expect(readFileSync(log, 'utf8')).to.equal('register http://from-env.example/\nstart http://from-env.example/\n');

    const fromDotEnv = JSON.parse((await run(p, ['config', '--json'])).stdout) as ConfigJson;
    expect(fromDotEnv.settings.acmeUrl).to.include({ value: 'http://from-dotenv.example/', source: '.env' });
    const table = await run(p, ['config']);
    expect(table.stdout).to.match(/acmeUrl\s+http:\/\/from-dotenv\.example\/\s+\.env/);
  });

  it('reads [settings.acme] below the variables, and the declared default when nothing sets it', async () => {
    const p = project({
      'plugins/acme.ts': ACME,
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/acme.ts"]\n\n[settings.acme]\nacmeUrl = "http://from-toml.example/"\n',
    });
    const c = JSON.parse((await run(p, ['config', '--json'])).stdout) as ConfigJson;
    expect(c.settings.acmeUrl).to.include({ value: 'http://from-toml.example/', source: 'plugins-file' });
    const bare = project({ 'plugins/acme.ts': ACME, '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/acme.ts"]\n' });
    const d = JSON.parse((await run(bare, ['config', '--json'])).stdout) as ConfigJson;
    expect(d.settings.acmeUrl).to.include({ value: 'http://127.0.0.1:9000/', source: 'default' });
  });

  it('refuses a malformed value naming the variable and the parser message, before any plugin registers', async () => {
    const p = acmeProject();
    const log = path.join(p.dir, 'acme.log');
    const r = await run(p, ['config', '--json'], { NUVOM_ACME_URL: 'ftp:/nope', ACME_LOG: log });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.contain('NUVOM_ACME_URL').and.contain('expected an http(s) URL').and.contain('NUVOM_E_CONFIG');
    expect(() => readFileSync(log, 'utf8')).to.throw();
  });

  it('refuses an unknown key in [settings.acme] with a suggestion', async () => {
    const p = acmeProject('\n[settings.acme]\nacmeURL = "http://x.example/"\n');
    const r = await run(p, ['config']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('[settings.acme] has unknown key(s) "acmeURL" (did you mean "acmeUrl"?)');
  });

  it('lets the config file set a plugin setting, and refuses a config-file key that no loaded plugin declares', async () => {
    const withFile = project({
      'plugins/acme.ts': ACME,
      '.nuvom_plugins.toml': '[plugins]\nmonitoring = ["./plugins/acme.ts"]\n',
      'nuvom.config.json': JSON.stringify({ acmeUrl: 'http://from-file.example/' }),
    });
    const c = JSON.parse((await run(withFile, ['config', '--json'])).stdout) as ConfigJson;
    expect(c.settings.acmeUrl).to.include({ value: 'http://from-file.example/', source: 'file' });
    const typo = project({ 'nuvom.config.json': JSON.stringify({ acmeUrl: 'http://from-file.example/' }) });
    const r = await run(typo, ['config']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('unknown setting(s) "acmeUrl"');
  });
});
