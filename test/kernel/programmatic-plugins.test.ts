import { expect } from 'chai';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '../../sdk/index.ts';
import { bootKernel, loadConfig, resolvePreset, type NuvomPlugin } from '../../sdk/plugin.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

/** createClient({ plugins }) with anything at all, as an application could pass by mistake. */
async function clientError(plugins: unknown[]): Promise<{ code?: string; message: string }> {
  const client = await createClient({
    cwd: tempProject(), env: {}, logger: memoryLogger().logger, plugins: plugins as NuvomPlugin[],
    config: { queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory' },
  }).catch((e: { code?: string; message: string }) => e);
  if ('close' in client) {
    await (client as { close(): Promise<void> }).close();
    throw new Error('createClient() booted');
  }
  return client;
}

describe('plugins passed as objects', function () {
  this.timeout(20_000);
  after(cleanupTempProjects);

  it('are refused by createClient() with NUVOM_E_PLUGIN_INVALID saying what is wrong, as listed plugins are', async () => {
    let registered = false;
    for (const [plugin, pattern] of [
      [{ nome: 'x' }, /createClient\(\) plugins\[0\]: has an unknown key "nome" \(did you mean "name"\?\)/],
      [function acme() {}, /plugins\[0\]: is a function or class, not a plugin object/],
      [Promise.resolve({ name: 'x', apiVersion: 1 }), /plugins\[0\]: is a Promise, not a plugin object; await it/],
      [{ apiVersion: 1, register() { registered = true; } }, /plugins\[0\]: has no "name": it must be a non-empty string/],
      [{ name: 'acme', apiVersion: 2, register() {} }, /plugins\[0\] \(plugin "acme"\): apiVersion is 2, this nuvom speaks apiVersion 1/],
      [{ name: 'acme', apiVersion: 1, settings: { acmeUrl: { doc: 'where', default: '' } } }, /setting "acmeUrl" has no "parse" function/],
      [null, /plugins\[0\]: is null, not a plugin object/],
    ] as const) {
      const err = await clientError([plugin]);
      expect(err.code, String(pattern)).to.equal('NUVOM_E_PLUGIN_INVALID');
      expect(err.message).to.match(pattern);
    }
    expect(registered, 'the nameless plugin\'s register() ran').to.equal(false);
  });

  it('are refused with a suggestion when a key is a typo of a known one; other keys are left alone', async () => {
    for (const [key, meant] of [['regsiter', 'register'], ['strat', 'start'], ['Hooks', 'hooks'], ['dependson', 'dependsOn'], ['setings', 'settings']]) {
      const err = await clientError([{ name: 'acme', apiVersion: 1, [key]: {} }]);
      expect(err.code, key).to.equal('NUVOM_E_PLUGIN_INVALID');
      expect(err.message).to.contain(`plugins[0]: has an unknown key "${key}" (did you mean "${meant}"?)`);
    }
    const config = await loadConfig({ cwd: tempProject(), env: {} });
    const kernel = await bootKernel({ config, logger: memoryLogger().logger, plugins: [{ name: 'acme', apiVersion: 1, start() {}, state: {}, metrics: 1 } as NuvomPlugin] });
    await kernel.stop();
  });

  it('are refused showing the invalid name they have, and a setting variable not starting with NUVOM_ says so', async () => {
    expect((await clientError([{ name: 'has space', apiVersion: 1 }])).message).to.contain('plugins[0]: has an invalid "name" (got "has space"): it must be');
    expect((await clientError([{ name: 42, apiVersion: 1 }])).message).to.contain('has an invalid "name" (got 42)');
    const env = await clientError([{ name: 'acme', apiVersion: 1, settings: { acmeTimeout: { env: 'TIMEOUT', doc: 'how long', default: 1, parse: Number } } }]);
    expect(env.message).to.contain('setting "acmeTimeout": "env" must start with "NUVOM_" and hold only upper-case letters, digits and "_", such as "NUVOM_ACME_URL" (got "TIMEOUT")');
  });

  it('are refused as a module namespace object, with a hint to pass its default or named export', async () => {
    const dir = tempProject({ 'plugin.mjs': 'export const AcmePlugin = { name: "acme", apiVersion: 1 };\nexport default AcmePlugin;\n' });
    const ns = await import(pathToFileURL(path.join(dir, 'plugin.mjs')).href);
    const err = await clientError([ns]);
    expect(err.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(err.message).to.match(/is a module namespace object .*pass its default export \(ns\.default\) or the named export of the plugin \(it exports: ns\.AcmePlugin, ns\.default\)/);
  });

  it('are checked by bootKernel() too, and "plugins" must be an array', async () => {
    const config = await loadConfig({ cwd: tempProject(), env: {} });
    const bad = await bootKernel({ config, plugins: [{ name: 'acme', apiVersion: 2 }] as unknown as NuvomPlugin[], logger: memoryLogger().logger }).catch((e) => e);
    expect(bad.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(bad.message).to.match(/bootKernel\(\) plugins\[0\] \(plugin "acme"\): apiVersion is 2/);
    const notArray = await clientError({ name: 'acme', apiVersion: 1 } as unknown as unknown[]);
    expect(notArray.message).to.match(/createClient\(\): "plugins" must be an array of plugin objects, not object; wrap it: plugins: \[myPlugin\]/);
  });

  it('are checked as preset entries given as objects', async () => {
    const err = await resolvePreset({ name: 'mine', plugins: [{ name: 'acme', apiVersion: 2 } as unknown as NuvomPlugin] }).catch((e) => e);
    expect(err.code).to.equal('NUVOM_E_PLUGIN_INVALID');
    expect(err.message).to.match(/preset "mine" entry "acme" \(plugin "acme"\): apiVersion is 2/);
  });

  it('boot as before when valid', async () => {
    const seen: string[] = [];
    const client = await createClient({
      cwd: tempProject(), env: {}, logger: memoryLogger().logger,
      plugins: [{ name: 'acme', apiVersion: 1, register() { seen.push('register'); } }],
      config: { queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory' },
    });
    await client.close();
    expect(seen).to.deep.equal(['register']);
  });
});
