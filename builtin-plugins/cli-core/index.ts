/**
 * Core CLI commands: version, config, plugin status, enqueue, status. Contributed through the `cli`
 * hook like any plugin's commands.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { argCountProblem, LATEST_RUN_AT, definePlugin, editDistance, formatSignature, maskSecrets, NuvomError, PACKAGE_ROOT, resolveJobId, resolvePath, taskNameProblem, type PluginContext } from '../../sdk/plugin.ts';
import type { Command } from 'commander';

const pkgUrl = new URL('package.json', PACKAGE_ROOT);
const pkg = JSON.parse(readFileSync(pkgUrl, 'utf8')) as { version: string };

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
}

/** Parses one ARG_JSON; a malformed one is a usage error naming the argument and the parser's message. */
export function parseArgJson(raw: string, index: number): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new NuvomError('NUVOM_E_USAGE', `argument ${index + 1} is not valid JSON (${(err as Error).message}): ${raw}. Quote strings for the shell, e.g. '"hello"'`);
  }
}

/** A flag's number, or a usage error naming the flag (exit 2). */
/** A number option within [min, max()] (a usage error, exit 2, outside it); `why` says where max comes from. */
function numberFlag(flag: string, integer: boolean, min: number, max: () => number = () => Infinity, why = '') {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);
    const top = max();
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > top) {
      const range = top < Infinity ? ` from ${min} to ${Math.floor(top)}${why}` : min > -Infinity ? ` >= ${min}` : '';
      throw new NuvomError('NUVOM_E_USAGE', `${flag} must be ${integer ? 'a whole number' : 'a number'}${range}, got "${v}"`);
    }
    return n;
  };
}

/** The last second a job may run at (the end of year 9999, as the dispatcher allows), from now. */
const LAST_RUN_SECS = () => Math.floor(LATEST_RUN_AT / 1000) - Date.now() / 1000;

/** Why the manifest may be older than the task's source, or null: two stats, no scan. */
function staleFor(ctx: PluginContext, moduleUrl: string): string | null {
  try {
    const file = fileURLToPath(moduleUrl);
    const manifest = resolvePath(ctx.config, ctx.config.manifestPath);
    if (statSync(file).mtimeMs > statSync(manifest).mtimeMs) return `${file} changed after the manifest was written`;
  } catch {
    // A missing file is the worker's to report, with the job.
  }
  return null;
}

/** The known name closest to `name` by edit distance, if it is close enough to be a typo. */
export function nearest(name: string, known: string[]): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of known) { const d = editDistance(name, k); if (!best || d < best.d) best = { k, d }; }
  return best && best.d <= Math.max(1, Math.floor(name.length / 3)) ? best.k : undefined;
}

/** How `nuvom config` names a source: the words docs/configuration.md uses. */
const SOURCE_LABEL: Record<string, string> = { file: 'config file', env: 'env', '.env': '.env', flag: 'flag', default: 'default', derived: 'derived' };

function addCommands(program: Command, ctx: PluginContext): void {
  program.version(pkg.version, '-V, --version', 'print the version');
  program.command('version').description('print the version')
    .addHelpText('after', '\nExample:\n  $ nuvom version')
    .action(() => out(pkg.version));

  program.command('config')
    .description('the resolved configuration, with where each value came from')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ NUVOM_QUEUE_BACKEND=memory nuvom config')
    .action((o: { json?: boolean }) => {
      const c = ctx.config;
      // Secrets masked (a password in NUVOM_POSTGRES_URL): this output is pasted into bug reports.
      const sources = Object.fromEntries(Object.entries(c.sources).map(([k, v]) => [k, { ...v, value: maskSecrets(v.value, k) }]));
      if (o.json) {
        out(JSON.stringify({ cwd: c.cwd, root: { dir: c.cwd, reason: c.rootReason }, settings: sources, plugins: c.plugins, pluginSettings: maskSecrets(c.pluginSettings), pluginsFile: c.pluginsFilePath }, null, 2));
        return;
      }
      // A table-valued setting (services) prints as JSON, not "[object Object]".
      const rows = Object.entries(sources).map(([k, v]) => [k, typeof v.value === 'object' && v.value !== null ? JSON.stringify(v.value) : String(v.value), (SOURCE_LABEL[v.source] ?? v.source) + (v.origin && v.source !== 'default' && v.source !== 'derived' ? ` (${v.origin})` : '')]);
      // The root first: every relative path below is resolved against it.
      rows.unshift(['projectRoot', c.cwd, c.rootReason]);
      const w0 = Math.max(...rows.map((r) => r[0].length)); const w1 = Math.max(...rows.map((r) => r[1].length));
      for (const [k, v, s] of rows) out(`${k.padEnd(w0)}  ${v.padEnd(w1)}  ${s}`);
    });

  const plugin = program.command('plugin').description('inspect, test and scaffold plugins');
  plugin.command('status')
    .description('list loaded plugins and the services they provide')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ nuvom plugin status --json')
    .action((o: { json?: boolean }) => {
      const rows = ctx.resolve('kernelInfo').plugins();
      if (o.json) { out(JSON.stringify(rows, null, 2)); return; }
      // Columns as wide as their longest cell: a local path as the source must not run into the next.
      const cells = rows.map((r) => [r.name, r.version ?? '-', r.state, r.source, r.provides.join(', ')]);
      const w = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => c[i].length)));
      for (const c of cells) out(`${c.slice(0, 4).map((v, i) => v.padEnd(w[i])).join('  ')}  ${c[4]}`.trimEnd());
    });

  program.command('enqueue')
    .description('enqueue a job from the shell; prints its id')
    .argument('<task>', 'task name')
    .argument('[argJson...]', 'arguments, one JSON value each')
    .option('--priority <n>', 'higher runs first (a whole number)', numberFlag('--priority', true, -(2 ** 31), () => 2 ** 31 - 1, ' (32 bits)'))
    .option('--delay-secs <n>', 'run after this many seconds', numberFlag('--delay-secs', false, 0, LAST_RUN_SECS, ' (a run time before year 10000)'))
    .option('--json', 'print {"id", "taskName", "status"} as JSON')
    .addHelpText('after', `\nExample:\n  $ nuvom enqueue add 2 3\n  $ nuvom enqueue send_email '"a@example.com"' '{"subject":"hi"}'`)
    .action(async (taskName: string, raw: string[], o: { priority?: number; delaySecs?: number; json?: boolean }) => {
      const args = raw.map(parseArgJson);
      // Before the unknown-task message, which would print the name raw.
      const badName = taskNameProblem(taskName);
      if (badName) throw new NuvomError('NUVOM_E_TASK_INVALID', `enqueue: ${badName}; nothing was enqueued`);
      const registry = ctx.resolve('registry');
      const ref = registry.get(taskName);
      if (!ref) {
        const known = registry.list().map((t) => t.name);
        const near = nearest(taskName, known);
        throw new NuvomError('NUVOM_E_TASK_UNKNOWN', `unknown task "${taskName}"${near ? ` (did you mean "${near}"?)` : ''}; ${known.length ? `known tasks: ${known.join(', ')}` : 'no tasks are known: run `nuvom discover tasks` first'}`);
      }
      // The job takes its options from the manifest: say so when the source may have moved on.
      const stale = ref.source === 'manifest' && ref.moduleUrl ? staleFor(ctx, ref.moduleUrl) : null;
      if (stale) ctx.logger.warn(`the task manifest may be stale (${stale}); the job uses the options it lists for "${taskName}": run \`nuvom discover tasks\` to refresh them`);
      // The manifest's parameters (docs/discovery.md, "Parameters"); no signature, no check.
      if (ref.signature) {
        const wrong = argCountProblem(ref.signature, args.length);
        if (wrong) {
          throw new NuvomError('NUVOM_E_USAGE', `task "${taskName}" ${wrong}; its signature is ${formatSignature(taskName, ref.signature)}; nothing was enqueued${stale ? ' (the manifest may be stale: run `nuvom discover tasks`)' : ''}`,
            { details: { taskName, args: args.length, signature: ref.signature } });
        }
      } else if (ref.signature === undefined && ref.source === 'manifest') {
        ctx.logger.warn(`the task manifest predates argument checks, so the arguments of "${taskName}" are not checked: run \`nuvom discover tasks\` to record its parameters`);
      }
      const [h] = await ctx.resolve('jobs').enqueue([{ taskName, taskOptions: ref.options, call: { args, priority: o.priority, delaySecs: o.delaySecs } }]);
      out(o.json ? JSON.stringify({ id: h.id, taskName, status: 'PENDING' }) : h.id);
    });

  program.command('status')
    .description("one line: the job's status (and result or error)")
    .argument('<jobId>', 'the job id, or its first characters (6 or more) when no other job id starts with them')
    .option('--json', 'print {id, taskName, status, attempts, result, error} as JSON')
    .addHelpText('after', '\nExample:\n  $ nuvom status 6f1c2a9e-0d7b-4c43-9a55-2f0b8f3c1d10\n\nExit code: 0 when the job is found (whatever its status), 1 when it is FAILED, or when no job has the id.')
    .action(async (idOrPrefix: string, o: { json?: boolean }) => {
      const id = await resolveJobId(ctx.resolve('jobs'), idOrPrefix);
      const rec = await ctx.resolve('jobs').getJob(id);
      if (!rec) throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${id}"`);
      // FAILED exits 1 with or without --json: a script's `nuvom status $id && ...` must not go on.
      if (rec.status === 'FAILED') process.exitCode = 1;
      if (o.json) {
        out(JSON.stringify({ id: rec.id, taskName: rec.taskName, status: rec.status, attempts: rec.attempts, result: rec.status === 'SUCCESS' ? rec.result : null, error: rec.error ?? null }));
        return;
      }
      const tail = rec.status === 'SUCCESS' ? ` result=${JSON.stringify(rec.result)}` : rec.error ? ` error=${rec.error.name}: ${rec.error.message}` : '';
      out(`${rec.id} ${rec.taskName} ${rec.status} attempts=${rec.attempts}${tail}`);
    });
}

export default definePlugin({
  name: 'nuvom-cli-core',
  apiVersion: 1,
  description: 'core commands: version, config, plugin status, enqueue, status',
  provides: ['cli'],
  needs: ['jobs', 'registry', 'kernelInfo'],
  register(ctx) {
    ctx.hooks.cli.tap('nuvom-cli-core', ({ program }) => addCommands(program, ctx));
  },
});
