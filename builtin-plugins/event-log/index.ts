/**
 * nuvom-event-log: one JSON line per job event, to a file (`[settings.nuvom-event-log] path`) or to
 * stderr. Opt-in from .nuvom_plugins.toml (`monitoring = ["nuvom/plugins/event-log"]`); it sees jobs
 * only through the public observer hooks. The line format is in docs/monitoring.md.
 * Must never: block a job on disk I/O (lines go through a buffered append stream), or throw from a tap.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { definePlugin, NuvomError, messageOf, type JobEvent, type NuvomPlugin, type ObserverEvents, type ObserverHookName } from '../../sdk/plugin.ts';

/** The worker pool's payloads, as it declares them (nuvom-worker-pool's `hooks`). */
type ThreadEvent = ObserverEvents['threadStarted'];
type WorkerEvent = ObserverEvents['workerStarted'];

export const PLUGIN_NAME = 'nuvom-event-log';

export const JOB_EVENTS = [
  'jobEnqueued', 'jobClaimed', 'jobStarted', 'jobSucceeded', 'jobFailed', 'jobRetryScheduled', 'jobTimedOut', 'jobCancelled', 'jobRedelivered',
] as const satisfies readonly ObserverHookName[];
export const THREAD_EVENTS = ['threadStarted', 'threadStopped', 'threadReplaced', 'workerStarted', 'workerStopped'] as const satisfies readonly ObserverHookName[];
type LoggedEvent = (typeof JOB_EVENTS)[number] | (typeof THREAD_EVENTS)[number];
const LOGGABLE: readonly string[] = [...JOB_EVENTS, ...THREAD_EVENTS];
const KNOWN = ['path', 'events'];

export interface EventLogSettings {
  /** Absolute file path, or null for stderr. */
  path: string | null;
  events: LoggedEvent[];
}

export function readSettings(raw: Readonly<Record<string, unknown>>, cwd: string): EventLogSettings {
  const bad = (what: string): never => { throw new NuvomError('NUVOM_E_CONFIG', `[settings.${PLUGIN_NAME}] ${what}`, { plugin: PLUGIN_NAME }); };
  const unknown = Object.keys(raw).filter((k) => !KNOWN.includes(k));
  if (unknown.length) bad(`has unknown key(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  const p = raw.path;
  if (p !== undefined && (typeof p !== 'string' || p.trim() === '')) bad('path must be a file path (relative to the project directory), or "-" for stderr');
  const events = raw.events ?? JOB_EVENTS;
  if (!Array.isArray(events) || events.some((e) => typeof e !== 'string' || !LOGGABLE.includes(e))) {
    bad(`events must be a list of event names from: ${LOGGABLE.join(', ')}`);
  }
  const file = typeof p === 'string' && p.trim() !== '-' ? path.resolve(cwd, p.trim()) : null;
  return { path: file, events: [...new Set(events as LoggedEvent[])] };
}

/** One line: `{"event":...,` then the event's fields, epoch-ms times (`at`, `nextRunAt`) as ISO-8601 UTC. */
export function eventLine(event: string, e: JobEvent | ThreadEvent | WorkerEvent): string {
  const out: Record<string, unknown> = { event };
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue;
    out[k] = (k === 'at' || k === 'nextRunAt') && typeof v === 'number' ? new Date(v).toISOString() : v;
  }
  return `${JSON.stringify(out)}\n`;
}

function openAppend(file: string): Promise<WriteStream> {
  return new Promise((resolve, reject) => {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
    } catch (err) {
      reject(err);
      return;
    }
    const stream = createWriteStream(file, { flags: 'a' });
    stream.once('error', reject);
    stream.once('open', () => { stream.off('error', reject); resolve(stream); });
  });
}

/** A fresh plugin object, so each kernel in a process owns its own file handle. */
export function createEventLogPlugin(): NuvomPlugin {
  let stream: WriteStream | null = null;

  return definePlugin({
    name: PLUGIN_NAME,
    apiVersion: 1,
    description: 'one JSON line per job event, to a file or stderr',
    provides: ['monitoring'],
    async start(raw, ctx) {
      const settings = readSettings(raw, ctx.config.cwd);
      let write: (line: string) => void;
      if (settings.path) {
        const file = settings.path;
        try {
          stream = await openAppend(file);
        } catch (err) {
          throw new NuvomError('NUVOM_E_CONFIG', `cannot open the event log ${file} for appending: ${messageOf(err)}; fix [settings.${PLUGIN_NAME}] path or the directory's permissions`, { plugin: PLUGIN_NAME, cause: err });
        }
        const s = stream;
        let failed = false;
        s.on('error', (err) => {
          if (failed) return;
          failed = true;
          ctx.logger.error(`writing the event log ${file} failed: ${messageOf(err)}; further events are not logged`, { code: 'NUVOM_E_STORAGE' });
        });
        write = (line) => { if (!failed) s.write(line); };
      } else {
        write = (line) => { process.stderr.write(line); };
      }
      for (const name of settings.events) {
        const hook = ctx.hooks[name] as { tap(name: string, fn: (e: JobEvent | ThreadEvent | WorkerEvent) => void): void };
        hook.tap(PLUGIN_NAME, (e) => write(eventLine(name, e)));
      }
    },
    async stop() {
      const s = stream;
      stream = null;
      // 'close' follows the flush, and also an earlier write error, so stop() never hangs on a broken file.
      if (s && !s.closed) await new Promise<void>((resolve) => { s.once('close', () => resolve()); s.end(); });
    },
  });
}

export default createEventLogPlugin();
