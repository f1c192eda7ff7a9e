/**
 * The guard of read-only commands: `history recent`, `status`, `inspect`, `stats`, `schedule list`
 * and `retry jobs --dry-run`-like reads must not create a database where none is (a command run from
 * the wrong folder would otherwise print "no jobs found" and leave an empty `.nuvom/nuvom.db`).
 * The chosen implementation says where its data lives (StorageHealth.locate, provided beside its
 * factory); when that is nowhere yet, it says where it looked and why that is the project.
 * Must never: open or create a store, or know a backend's paths (a backend without `locate` is not
 * judged).
 */
import { NuvomError, type Logger, type NuvomConfig, type StorageHealth } from '../sdk/plugin.ts';

/**
 * Commands (first words) that only read job records or schedules, or act on ones that exist (retry,
 * cancel, purge): with no store there is nothing to read or act on, and creating one would hide a
 * command run in the wrong folder, or a mistyped PostgreSQL schema, behind "no jobs" or "0 deleted".
 */
const READ_ONLY: ReadonlyArray<{ words: string[]; store: 'resultStore' | 'scheduleStore'; acts?: true }> = [
  { words: ['history', 'recent'], store: 'resultStore' },
  { words: ['history', 'purge'], store: 'resultStore', acts: true },
  { words: ['status'], store: 'resultStore' },
  { words: ['inspect'], store: 'resultStore' },
  { words: ['stats'], store: 'resultStore' },
  { words: ['workers'], store: 'resultStore' },
  { words: ['retry'], store: 'resultStore', acts: true },
  { words: ['cancel'], store: 'resultStore', acts: true },
  { words: ['schedule', 'list'], store: 'scheduleStore' },
  { words: ['schedule', 'cancel'], store: 'scheduleStore', acts: true },
  // Shows and acts on what exists: a mistyped schema or folder would show an empty, healthy-looking dashboard.
  { words: ['dashboard'], store: 'resultStore', acts: true },
];

/** Global options that take a value: their value is not a command word. */
const VALUED = new Set(['--cwd', '--log-level']);

/** The command words of `argv`, global options skipped. */
export function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (VALUED.has(a)) { i++; continue; }
    if (a.startsWith('-')) { if (words.length) break; continue; }
    words.push(a);
  }
  return words;
}

/**
 * Throws NUVOM_E_NO_DATABASE when `argv` is a read-only command and its store's data is missing.
 * `healthOf` gives the chosen implementation's checker (Kernel.healthOf).
 */
export async function checkReadOnly(argv: readonly string[], config: NuvomConfig, healthOf: (token: string) => StorageHealth | undefined): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return;
  const words = commandWords(argv);
  const cmd = READ_ONLY.find((c) => c.words.every((w, i) => words[i] === w));
  if (!cmd) return;
  const where = await healthOf(cmd.store)?.locate?.(cmd.store);
  if (!where || where.exists) return;
  throw new NuvomError('NUVOM_E_NO_DATABASE',
    `no nuvom ${where.what} at ${where.path}: \`nuvom ${cmd.words.join(' ')}\` ${cmd.acts ? 'acts on existing jobs or schedules' : 'only reads'} and creates nothing. `
    + `The project root is ${config.cwd} (${config.rootReason}); run it in your project, pass --cwd <project>${where.setting ? `, or set ${where.setting}` : ''}`);
}

/** Commands (first words) that enqueue or run jobs, beside the READ_ONLY ones, and the store they use. */
const WRITES: ReadonlyArray<{ words: string[]; store: 'queue' }> = [
  { words: ['enqueue'], store: 'queue' },
  { words: ['runworker'], store: 'queue' },
];

/**
 * Warns when a command that enqueues, runs or reads jobs uses a store that keeps its data inside this
 * process (StorageHealth.inProcess, the memory backends): a job `nuvom enqueue` accepts is gone when
 * the command exits, and a read sees nothing another process did.
 */
export function warnInProcess(argv: readonly string[], healthOf: (token: string) => StorageHealth | undefined, logger: Logger): void {
  if (argv.includes('--help') || argv.includes('-h')) return;
  const words = commandWords(argv);
  const cmd = [...WRITES, ...READ_ONLY].find((c) => c.words.every((w, i) => words[i] === w));
  if (!cmd || !healthOf(cmd.store)?.inProcess) return;
  const name = `\`nuvom ${cmd.words.join(' ')}\``;
  const what = cmd.words[0] === 'enqueue' ? `${name} enqueues a job that nothing else sees and that is gone when this command exits`
    : cmd.words[0] === 'runworker' ? `${name} runs only the jobs enqueued in its own process (none from \`nuvom enqueue\` or your application)`
      : `${name} sees only what this command itself did, never another process's jobs or schedules`;
  logger.warn(`the ${cmd.store} backend keeps its data inside this process (memory): ${what}; choose a backend processes share (sqlite, the default, or postgres)`);
}
