/**
 * The one logger: human lines on stderr (never stdout, which carries data). Level-filtered.
 * Must never: write to stdout.
 */
import type { LogLevel, Logger } from './contracts.ts';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  level: LogLevel;
  /** Defaults to process.stderr.write. */
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

function fmt(fields: Record<string, unknown>): string {
  const parts = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return parts.length ? ` ${parts.join(' ')}` : '';
}

export function createLogger(opts: LoggerOptions): Logger {
  const min = ORDER[opts.level] ?? ORDER.info;
  const write = opts.write ?? ((line: string) => { process.stderr.write(line); });
  const bindings = opts.bindings ?? {};
  const log = (level: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${fmt({ ...bindings, ...fields })}\n`);
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (more) => createLogger({ ...opts, bindings: { ...bindings, ...more } }),
  };
}
