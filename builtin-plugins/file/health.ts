/**
 * The file plugin's storage health (StorageHealth, nuvom/plugin), for `nuvom doctor` and the
 * read-only commands: the queue folder and its subfolders are readable, writable and searchable,
 * quarantined job files (.corrupt/) and temp files left by crashed enqueues; the result folder and its
 * logs are readable and writable.
 * Must never: create, repair or delete anything; build the plugin's services (that creates folders).
 */
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { messageOf, type HealthFinding, type HealthLevel, type StorageHealth, type StorageHealthReport } from '../../sdk/plugin.ts';

const QUEUE_SUBDIRS = ['ready', 'leased', 'ids', 'cancel', 'tmp'];
const TEMP_STALE_MS = 3_600_000;

function finding(check: string, level: HealthLevel, detail: string, fix?: string, data?: Record<string, unknown>): HealthFinding {
  return { check, level, detail, ...(fix ? { fix } : {}), ...(data ? { data } : {}) };
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function listing(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function nearest(dir: string): string {
  let d = dir;
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/** `dirs`: the absolute queue and result folders. */
export function fileHealth(dirs: { queue: string; results: string }): StorageHealth {
  return {
    locate: (service) => (service === 'queue' ? { path: dirs.queue, exists: existsSync(dirs.queue), what: 'queue folder', setting: 'NUVOM_FILE_QUEUE_DIR' }
      : service === 'resultStore' ? { path: dirs.results, exists: existsSync(dirs.results), what: 'result folder', setting: 'NUVOM_FILE_RESULT_DIR' }
        : null),
    health({ services }): StorageHealthReport {
      const findings: HealthFinding[] = [];
      const folders: NonNullable<StorageHealthReport['folders']> = [];
      if (services.includes('queue')) {
        findings.push(...checkQueue(dirs.queue));
        folders.push({ path: nearest(dirs.queue), services: ['queue'], setting: 'NUVOM_FILE_QUEUE_DIR' });
      }
      if (services.includes('resultStore')) {
        findings.push(...checkResults(dirs.results));
        folders.push({ path: nearest(dirs.results), services: ['results'], setting: 'NUVOM_FILE_RESULT_DIR' });
      }
      const missing = (services.includes('queue') && !existsSync(dirs.queue)) || findings.some((f) => f.data?.exists === false);
      const jobChecks = missing ? { skip: 'no job storage yet', level: 'ok' as const }
        : findings.some((f) => f.level === 'FAIL') ? { skip: 'skipped: fix the storage problem above first', level: 'warn' as const } : undefined;
      return { findings, jobChecks, folders };
    },
  };
}

function checkQueue(dir: string): HealthFinding[] {
  if (!existsSync(dir)) {
    return [finding('file-queue', 'warn', `${dir} does not exist yet`, 'nothing to check: it is created by the first enqueue or worker; if you expected jobs here, check NUVOM_FILE_QUEUE_DIR and --cwd', { path: dir, exists: false })];
  }
  const bad: string[] = [];
  for (const sub of ['.', ...QUEUE_SUBDIRS]) {
    const p = path.join(dir, sub);
    if (sub !== '.' && !existsSync(p)) continue;
    try {
      accessSync(p, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      bad.push(`${sub === '.' ? dir : sub + '/'} (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
    }
  }
  if (bad.length) {
    return [finding('file-queue', 'FAIL', `not readable, writable and searchable: ${bad.join(', ')}`, `run nuvom as the owner of ${dir}, or chmod -R u+rwX ${dir}`, { path: dir })];
  }
  const out = [finding('file-queue', 'ok', `${dir}: ${listing(path.join(dir, 'ready')).length} waiting, ${listing(path.join(dir, 'leased')).length} leased; permissions ok`, undefined, { path: dir })];
  const quarantined = listing(path.join(dir, '.corrupt')).filter((n) => !n.endsWith('.reason'));
  if (quarantined.length) {
    out.push(finding('file-quarantine', 'warn', `${quarantined.length} job file(s) were quarantined in ${path.join(dir, '.corrupt')} (they never run)`,
      'read the .reason file beside each; re-enqueue the jobs you still need, then delete them', { count: quarantined.length }));
  } else {
    out.push(finding('file-quarantine', 'ok', 'no quarantined job files', undefined, { count: 0 }));
  }
  const now = Date.now();
  const stale = listing(path.join(dir, 'tmp')).filter((n) => {
    try { return now - statSync(path.join(dir, 'tmp', n)).mtimeMs > TEMP_STALE_MS; } catch { return false; }
  });
  if (stale.length) {
    out.push(finding('file-temp', 'warn', `${stale.length} temp file(s) older than an hour in ${path.join(dir, 'tmp')}: enqueues that crashed before their rename`, 'they were never enqueued; safe to delete (a worker also sweeps them at start)', { count: stale.length }));
  }
  return out;
}

function checkResults(dir: string): HealthFinding[] {
  if (!existsSync(dir)) {
    return [finding('file-results', 'warn', `${dir} does not exist yet`, 'nothing to check: it is created by the first enqueue or worker; check NUVOM_FILE_RESULT_DIR and --cwd', { path: dir, exists: false })];
  }
  const bad = [dir, ...listing(dir).filter((n) => n.endsWith('.jsonl')).map((n) => path.join(dir, n))].filter((p) => !writable(p));
  if (bad.length) return [finding('file-results', 'FAIL', `not readable and writable: ${bad.join(', ')}`, `run nuvom as their owner, or chmod -R u+rwX ${dir}`, { path: dir })];
  const log = path.join(dir, 'results.jsonl');
  return [finding('file-results', 'ok', `${dir}: results.jsonl ${existsSync(log) ? bytes(statSync(log).size) : 'not written yet'}; permissions ok`, undefined, { path: dir })];
}
