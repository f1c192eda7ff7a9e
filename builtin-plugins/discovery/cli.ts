/**
 * The `discover tasks` and `list tasks` commands. Data (changes, tables, JSON) goes to stdout;
 * problems, warnings and the progress indicator go to stderr.
 * Must never: call process.exit (it sets process.exitCode), or print anything but JSON with --json.
 */
import type {} from './errors.ts';
import { join, relative, resolve, sep } from 'node:path';
import { cliFormat, isNuvomError, type CliContext, type NuvomConfig } from '../../sdk/plugin.ts';
import { defaultTaskTypesPath, writeTaskTypes } from './declarations.ts';
import type { discoverTasks } from './discover.ts';
import { loadManifest } from './manifest.ts';
import { staleReason } from './stale.ts';
import type { DiscoverProgress, Problem, TaskEntry } from './types.ts';

type Command = CliContext['program'];
type Out = { write(chunk: string): unknown; isTTY?: boolean; columns?: number };

export interface CliIo {
  stdout: Out;
  stderr: Out;
}

/** The parser loads with the first discovery, not with the commands' declarations. */
export const discoverLazily: typeof discoverTasks = async (opts) => (await import('./discover.ts')).discoverTasks(opts);

const collect = (value: string, previous: string[]) => [...previous, value];
/** Errors print as one line, as every other command prints them (a JSON.parse message may hold a newline). */
const oneLine = (m: string) => m.replace(/\s*\n\s*/g, ' ');

/** What the commands call: the `discovery` service the configuration chose (this plugin's by default). */
export interface DiscoveryCalls {
  discover: typeof discoverTasks;
  loadManifest: typeof loadManifest;
  /** Why the manifest is stale (this plugin's service has it); else `isManifestStale` gives yes or no. */
  staleReason?: typeof staleReason;
  isManifestStale?: (manifest: never) => boolean;
}

export function addDiscoveryCommands(
  program: Command,
  config: NuvomConfig,
  io: CliIo = process,
  discovery: () => DiscoveryCalls = () => ({ discover: discoverLazily, loadManifest, staleReason }),
): void {
  const manifestPath = () => resolve(config.cwd, config.manifestPath);
  const shown = (root: string, file: string) => relative(config.cwd, join(root, file)).split(sep).join('/');

  subcommand(program, 'discover', 'find task definitions in the sources')
    .command('tasks')
    .description('scan the sources with oxc-parser (no code runs), write the task manifest and print what changed')
    .option('--root <dir>', 'directory to scan (default: the working directory)')
    .option('--include <glob>', 'only scan files matching this glob, relative to the root (repeatable)', collect, [])
    .option('--exclude <glob>', 'skip files or directories matching this glob, relative to the root (repeatable)', collect, [])
    .option('--types <file>', 'write the task-types declaration file here (default: tasks.d.ts beside the manifest)')
    .option('--no-types', 'do not write the task-types declaration file')
    .addHelpText('after', '\nExample:\n  $ nuvom discover tasks --root src --exclude "**/*.test.ts"\n  + math.add  (src/tasks/math.ts:3)\n  1 task in 42 files (42 parsed, 0 cached) in 35 ms; manifest written to .nuvom/manifest.json; types written to .nuvom/tasks.d.ts')
    .action(async (opts: { root?: string; include: string[]; exclude: string[]; types?: string | boolean }) => {
      const root = resolve(config.cwd, opts.root ?? '.');
      const progress = progressIndicator(io.stderr);
      const printProblems = (problems: Problem[]) => {
        for (const p of problems) io.stderr.write(`${shown(root, p.file)}:${p.line}:${p.column}: ${p.message}\n`);
      };
      try {
        const r = await discovery().discover({ root, manifestPath: manifestPath(), include: opts.include, exclude: opts.exclude, onProgress: progress.update });
        progress.clear();
        const typesPath = opts.types === false ? null : typeof opts.types === 'string' ? resolve(config.cwd, opts.types) : defaultTaskTypesPath(manifestPath());
        const typesWritten = typesPath !== null && writeTaskTypes(r.manifest, typesPath);
        printProblems(r.problems);
        const at = (t: TaskEntry) => `(${shown(root, t.file)}:${t.line})`;
        const width = Math.max(0, ...[...r.diff.added, ...r.diff.removed, ...r.diff.modified.map((m) => m.after)].map((t) => t.name.length));
        for (const t of r.diff.added) io.stdout.write(`+ ${t.name.padEnd(width)}  ${at(t)}\n`);
        for (const t of r.diff.removed) io.stdout.write(`- ${t.name.padEnd(width)}  ${at(t)}\n`);
        for (const m of r.diff.modified) io.stdout.write(`~ ${m.name.padEnd(width)}  ${at(m.after)}  ${m.changed.join(', ')} changed\n`);
        const changes = r.diff.added.length + r.diff.removed.length + r.diff.modified.length;
        // A third-party discovery may report no scan statistics.
        const { files, parsed, cached, ms } = r.stats ?? { files: 0, parsed: 0, cached: 0, ms: 0 };
        const n = r.manifest.tasks.length;
        io.stdout.write(`${changes ? '' : 'no task changes; '}${n} task${n === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'} `
          + `(${parsed} parsed, ${cached} cached) in ${Math.round(ms)} ms; manifest ${r.written ? 'written to' : 'unchanged at'} `
          + `${relative(config.cwd, manifestPath()) || manifestPath()}${typesWritten ? `; types written to ${relative(config.cwd, typesPath) || typesPath}` : ''}${r.problems.length ? `; ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} (on stderr)` : ''}\n`);
      } catch (err) {
        progress.clear();
        if (isNuvomError(err, 'NUVOM_E_USAGE')) {
          io.stderr.write(`error: ${oneLine(err.message)} (${err.code})\n`);
          process.exitCode = 2;
          return;
        }
        if (!isNuvomError(err, 'NUVOM_E_DISCOVERY')) throw err;
        printProblems((err.details.problems as Problem[] | undefined) ?? []);
        const dupes = (err.details.duplicates as Array<{ name: string; places: Array<{ file: string; line: number }> }> | undefined) ?? [];
        for (const d of dupes) {
          io.stderr.write(`error: task name "${d.name}" is defined in more than one place: ${d.places.map((p) => `${shown(root, p.file)}:${p.line}`).join(' and ')} (NUVOM_E_DISCOVERY)\n`);
        }
        io.stderr.write(dupes.length
          ? "task names must be unique: give one of them another name (task({ name: '...' }, fn)); the manifest was not written\n"
          : `error: ${oneLine(err.message)} (${err.code})\n`);
        process.exitCode = 1;
      }
    });

  subcommand(program, 'list', 'list things nuvom knows about')
    .command('tasks')
    .description('the tasks in the manifest (run `nuvom discover tasks` first)')
    .option('--json', 'print the tasks as JSON')
    .addHelpText('after', '\nExample:\n  $ nuvom list tasks\n  NAME      FILE:LINE            EXPORT\n  math.add  src/tasks/math.ts:3  add')
    .action((opts: { json?: boolean }) => {
      let manifest;
      try {
        manifest = discovery().loadManifest(manifestPath(), config.cwd);
      } catch (err) {
        if (!isNuvomError(err, 'NUVOM_E_MANIFEST')) throw err;
        io.stderr.write(`error: ${oneLine(err.message)} (${err.code})\n`);
        process.exitCode = 1;
        return;
      }
      const d = discovery();
      const stale = d.staleReason ? d.staleReason(manifest) : d.isManifestStale?.(manifest as never) ? 'the discovery service says so' : null;
      if (stale) io.stderr.write(`warning: the task manifest is stale (${stale}); run \`nuvom discover tasks\`\n`);
      if (opts.json) {
        io.stdout.write(`${JSON.stringify(manifest.tasks, null, 2)}\n`);
        return;
      }
      if (manifest.tasks.length === 0) {
        io.stdout.write('no tasks in the manifest\n');
        return;
      }
      const rows = manifest.tasks.map((t) => [t.name, `${shown(manifest.root, t.file)}:${t.line}`, t.method ? `${t.export}.${t.method}` : t.export]);
      io.stdout.write(`${cliFormat.table([
        { header: 'NAME', shrink: 2, min: 12 }, { header: 'FILE:LINE', shrink: 1, min: 12 }, { header: 'EXPORT', shrink: 0 },
      ], rows, { width: cliFormat.termWidth(process.env, io.stdout), paint: cliFormat.paint(cliFormat.useColor(process.env, io.stdout)) })}\n`);
    });
}

/** An existing parent command (another plugin may have added `list`), or a new one. */
function subcommand(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

/** A one-line counter on a TTY stderr, shown only once a scan has taken more than 300 ms. */
export function progressIndicator(stream: Out, afterMs = 300) {
  let shown = false;
  let lastMs = 0;
  return {
    update: (p: DiscoverProgress) => {
      if (!stream.isTTY || p.elapsedMs < afterMs || (p.elapsedMs - lastMs < 100 && p.done < p.total)) return;
      lastMs = p.elapsedMs;
      shown = true;
      stream.write(`\rscanning sources: ${p.done}/${p.total} files`);
    },
    clear: () => {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
