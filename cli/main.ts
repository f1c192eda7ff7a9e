/**
 * The `nuvom` command: parse the global options, load the configuration, boot the kernel with the
 * default preset, let plugins contribute their commands through the `cli` hook, run one command.
 * Exit codes: 0 success, 1 failure or not found, 2 usage error. Data on stdout, logs on stderr.
 * Must never: implement a command itself (commands belong to plugins).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import defaultPreset from '../presets/default/index.ts';
import { bootKernel, createLogger, isNuvomError, loadConfig, messageOf, NuvomError, resolvePreset, type Kernel, type ConfigKey } from '../sdk/plugin.ts';
import { addPluginCommands } from '../sdk/cli-taps.ts';
import { checkReadOnly, commandWords, warnInProcess } from './read-only.ts';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

function globalOption(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
    if (argv[i] === '--') break;
  }
  return undefined;
}

/** `where`: the plugin and command an error came from, when its message does not say (`[plugin "x", command "y"] `). */
function fail(err: unknown, debug: boolean, where = ''): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  const usage = isNuvomError(err, 'NUVOM_E_USAGE');
  // One line: a message that quotes a parser may carry a newline.
  const msg = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`error: ${where}${msg}${isNuvomError(err) ? ` (${err.code})` : ''}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return usage ? 2 : 1;
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const cwd = globalOption(argv, 'cwd');
  const logLevel = globalOption(argv, 'log-level');
  const debug = logLevel === 'debug' || process.env.NUVOM_LOG_LEVEL === 'debug';
  let kernel: Kernel | undefined;
  // The third-party plugin and command whose action runs, for an error that does not name its plugin.
  let where = '';
  try {
    // A mistyped --cwd must not quietly become a new, empty project.
    if (cwd !== undefined && !statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) {
      throw new NuvomError('NUVOM_E_USAGE', `--cwd ${JSON.stringify(cwd)} is not a directory; pass the project's directory`);
    }
    // A bad flag value is a usage error (exit 2), like every other option's.
    if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel.trim().toLowerCase())) {
      throw new NuvomError('NUVOM_E_USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
    }
    const flags: Partial<Record<ConfigKey, unknown>> = { logLevel };
    const config = await loadConfig({ cwd, flags });
    const logger = createLogger({ level: config.logLevel });
    // The default preset, less what `[preset] disable` leaves out (never imported).
    const preset = await resolvePreset(defaultPreset, { disable: config.presetDisable });
    kernel = await bootKernel({ config, preset, logger });
    const program = new Command('nuvom')
      .description('nuvom: background jobs for Node.js and TypeScript, embedded SQLite by default')
      .option('--cwd <dir>', 'project directory whose configuration is used (default: the nearest folder with a package.json or .nuvom/, from the current directory up)')
      .option('--log-level <level>', 'debug, info, warn, error or silent (NUVOM_LOG_LEVEL)')
      .showSuggestionAfterError(true)
      .showHelpAfterError('(run with --help for usage)')
      .exitOverride()
      .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
    // One plugin's `cli` tap that throws (a command name already taken) costs only its own commands:
    // every other command, `nuvom plugin status` and `plugin test` among them, still works.
    const commands = addPluginCommands(kernel.hooks.cli, program);
    for (const { plugin, error } of commands.failures) {
      const source = kernel.plugins.find((l) => l.plugin.name === plugin)?.source;
      const file = config.pluginsFilePath ? path.relative(config.cwd, config.pluginsFilePath) || config.pluginsFilePath : '.nuvom_plugins.toml';
      const fix = source === 'builtin'
        ? `this is a bug in nuvom: please report it; \`[preset] disable = ["${plugin}"]\` in ${file} leaves the plugin out`
        : `rename the command in the plugin, or remove the plugin (${source ?? plugin}) from ${file}`;
      logger.warn(`${messageOf(error)}${isNuvomError(error) ? ` (${error.code})` : ''}; the commands of plugin "${plugin}" are left out: ${fix}`);
    }
    // After boot (which checks the backends' names, and opens no store: services build lazily) and
    // after the command's options parsed (a bad option is a usage error first), before it runs.
    const booted = kernel;
    program.hook('preAction', async (_program, action) => {
      await checkReadOnly(argv, booted.config, (token) => booted.healthOf(token));
      warnInProcess(argv, (token) => booted.healthOf(token), logger);
      const owner = commands.ownerOf(action);
      if (owner !== undefined && booted.plugins.find((l) => l.plugin.name === owner)?.source !== 'builtin') {
        const names: string[] = [];
        for (let c: Command | null = action; c?.parent; c = c.parent) names.unshift(c.name());
        where = `[plugin "${owner}", command "${names.join(' ')}"] `;
      }
    });
    // `nuvom help <command>`: commander prints the whole help for a name it does not know, and says nothing of it.
    const [first, second] = commandWords(argv);
    if (first === 'help' && second !== undefined && !program.commands.some((c) => c.name() === second || c.aliases().includes(second))) {
      throw new NuvomError('NUVOM_E_USAGE', `unknown command "${second}"; \`nuvom --help\` lists the commands`);
    }
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // A plugin's own NuvomError already names it; a plain Error from its action would not.
    return fail(err, debug, isNuvomError(err) && err.plugin ? '' : where);
  } finally {
    await kernel?.stop().catch((err) => fail(err, debug));
  }
}

// `nuvom history recent | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const code = await main();
process.exitCode = code;
// Nothing should hold the event loop now; if a plugin left a handle open, do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
