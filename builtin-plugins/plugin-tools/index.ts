/**
 * Plugin tools: `nuvom plugin test TARGET` and `nuvom plugin scaffold NAME`.
 * Must never: import test-plugin.ts (the conformance kit, `nuvom/testing`) at the top: only
 * `plugin test` runs it, and every client boots this plugin.
 */
import path from 'node:path';
import { definePlugin, type NuvomPlugin } from '../../sdk/plugin.ts';
import { CAPABILITIES, scaffold } from './scaffold.ts';

export { scaffold };

/** `plugin test`'s runner; the conformance kit loads with it (the module is loaded on the first call). */
export const testPlugin: typeof import('./test-plugin.ts').testPlugin = async (...args) => (await import('./test-plugin.ts')).testPlugin(...args);

/** The isolated kernel of `plugin test` boots the same preset plugins and catalogue as this one (kernelInfo). */
export function pluginTools(): NuvomPlugin {
  return definePlugin({
    name: 'nuvom-plugin-tools',
    apiVersion: 1,
    description: 'nuvom plugin test / scaffold',
    provides: ['cli'],
    needs: ['kernelInfo'],
    register(ctx) {
      ctx.hooks.cli.tap('nuvom-plugin-tools', ({ program }) => {
        const plugin = program.commands.find((c) => c.name() === 'plugin') ?? program.command('plugin').description('inspect, test and scaffold plugins');
        plugin.command('test')
          .description('load a plugin, start and stop it in an isolated kernel, and run the conformance kit on what it provides')
          .argument('<target>', 'a module spec as in .nuvom_plugins.toml: "./plugins/x.ts:Export" or a package name')
          .addHelpText('after', '\nExample:\n  $ nuvom plugin test ./plugins/my-queue.ts:MyQueuePlugin')
          .action(async (target: string) => {
            let failed = 0;
            const info = ctx.resolve('kernelInfo');
            // With this plugin too: a plugin's commands are checked against every built-in one, `plugin test` included.
            const ok = await testPlugin(target, ctx.config, info.presetPlugins(), info.catalogue(), (r) => {
              if (!r.ok) failed++;
              process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.error ? `\n     ${r.error.split('\n').join('\n     ')}` : ''}\n`);
            });
            process.stdout.write(ok ? `plugin ${target}: all checks passed\n` : `plugin ${target}: ${failed} check(s) failed\n`);
            if (!ok) process.exitCode = 1;
          });
        plugin.command('scaffold')
          .description('write a starter plugin and a mocha test for it that passes as written')
          .argument('<name>', 'plugin name, e.g. my-queue')
          .option('--capability <cap>', `one of ${CAPABILITIES.join(', ')}`, 'monitoring')
          .option('--out <dir>', 'directory to write into', 'plugins')
          .option('--force', 'overwrite existing files')
          .addHelpText('after', '\nExample:\n  $ nuvom plugin scaffold my-queue --capability queue_backend')
          .action((name: string, o: { capability: string; out: string; force?: boolean }) => {
            const files = scaffold(name, o.capability, path.resolve(ctx.config.cwd, o.out), o.force);
            for (const f of files) process.stdout.write(`wrote ${path.relative(ctx.config.cwd, f)}\n`);
            const rel = path.relative(ctx.config.cwd, files[0]);
            process.stderr.write(`next: add it to .nuvom_plugins.toml, e.g.\n  [plugins]\n  ${o.capability} = ["./${rel}"]\nand run its test with mocha (needs chai and tsx), or: nuvom plugin test ./${rel}\n`);
          });
      });
    },
  });
}
