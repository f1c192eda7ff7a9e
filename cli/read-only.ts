/**
 * The guard of read-only commands: `history recent`, `status`, `inspect`, `stats`, `schedule list`
 * and `retry jobs --dry-run`-like reads must not create a database where none is (a command run from
 * the wrong folder would otherwise print "no jobs found" and leave an empty `.nuvom/nuvom.db`).
 * When the configured store has no file yet, it says where it looked and why that is the project.
 * Must never: open or create a store (it only looks at the file system), or judge a plugin's backend
 * (only the built-in sqlite and file backends have paths to check).
 */
import { existsSync } from 'node:fs';
import { NuvomError, resolvePath, type NuvomConfig } from '../sdk/plugin.ts';

/** Commands (first words) that only read job records or schedules. */
const READ_ONLY: ReadonlyArray<{ words: string[]; store: 'results' | 'schedules' }> = [
  { words: ['history', 'recent'], store: 'results' },
  { words: ['status'], store: 'results' },
  { words: ['inspect'], store: 'results' },
  { words: ['stats'], store: 'results' },
  { words: ['schedule', 'list'], store: 'schedules' },
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

/** Throws NUVOM_E_NO_DATABASE when `argv` is a read-only command and its store's file is missing. */
export function checkReadOnly(argv: readonly string[], config: NuvomConfig): void {
  if (argv.includes('--help') || argv.includes('-h')) return;
  const words = commandWords(argv);
  const cmd = READ_ONLY.find((c) => c.words.every((w, i) => words[i] === w));
  if (!cmd) return;
  const backend = cmd.store === 'results' ? config.resultBackend : config.schedulerBackend;
  const where = backend === 'sqlite' ? resolvePath(config, config.sqliteResultPath)
    : backend === 'file' && cmd.store === 'results' ? resolvePath(config, config.fileResultDir)
      : null;
  if (where === null || existsSync(where)) return;
  throw new NuvomError('NUVOM_E_NO_DATABASE',
    `no nuvom ${backend === 'sqlite' ? 'database' : 'result folder'} at ${where}: \`nuvom ${cmd.words.join(' ')}\` only reads and creates nothing. `
    + `The project root is ${config.cwd} (${config.rootReason}); run it in your project, pass --cwd <project>, or set ${backend === 'sqlite' ? 'NUVOM_SQLITE_PATH' : 'NUVOM_FILE_RESULT_DIR'}`);
}
