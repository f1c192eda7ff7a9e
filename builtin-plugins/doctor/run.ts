/**
 * What `nuvom doctor` runs: every check, in order, as findings. Loaded by the command's action (and by
 * runDoctor), not with the plugin's definition.
 * Must never: know a backend by name or read its files itself; change anything unless `fix` is given.
 */
import { hasHealth, messageOf, type PluginContext, type StorageHealth, type StorageHealthReport, type StorageToken } from '../../sdk/plugin.ts';
import { checkJobs, jobCheckError } from './jobs.ts';
import { checkFreeSpace, checkLastStorageError } from './last-error.ts';
import { checkManifest } from './manifest.ts';
import { finding, type Finding } from './report.ts';

export interface DoctorOptions {
  fix?: boolean;
  /** Records younger than this are not judged by the job checks (default 60 s). */
  graceSecs?: number;
}

const STORAGE: readonly StorageToken[] = ['queue', 'resultStore', 'scheduleStore'];

/** The chosen storage implementations' health checkers, each with the services it serves (one checker may serve several). */
function checkers(ctx: PluginContext): Map<StorageHealth, StorageToken[]> {
  const out = new Map<StorageHealth, StorageToken[]>();
  for (const token of STORAGE) {
    const h = ctx.healthOf(token);
    if (h) out.set(h, [...(out.get(h) ?? []), token]);
  }
  return out;
}

/** Asks every chosen storage implementation about its storage, without building any service. */
async function storageHealth(ctx: PluginContext, opts: DoctorOptions) {
  const findings: Finding[] = [];
  const folders: NonNullable<StorageHealthReport['folders']> = [];
  let skip: StorageHealthReport['jobChecks'];
  for (const [h, services] of checkers(ctx)) {
    try {
      const report = await h.health({ services, fix: opts.fix === true, leaseSecs: ctx.config.visibilityTimeoutSecs });
      findings.push(...report.findings.map((f) => finding(f.check, f.level, f.detail, f.fix, f.data)));
      folders.push(...(report.folders ?? []));
      skip ??= report.jobChecks;
    } catch (err) {
      findings.push(finding(`${services[0]}-health`, 'FAIL', `the storage check of ${services.join(', ')} threw: ${messageOf(err)}`, 'report this to the plugin\'s authors'));
      skip ??= { skip: 'skipped: fix the storage problem above first', level: 'warn' };
    }
  }
  return { findings, folders, skip };
}

export async function runDoctor(ctx: PluginContext, opts: DoctorOptions = {}): Promise<Finding[]> {
  const c = ctx.config;
  const findings: Finding[] = [
    finding('config', 'ok', `queue ${c.queueBackend}, results ${c.resultBackend}, schedules ${c.schedulerBackend}; lease ${c.visibilityTimeoutSecs}s; project ${c.cwd}`),
  ];
  const storage = await storageHealth(ctx, opts);
  findings.push(...storage.findings);
  // A full volume or a worker's storage error does not keep the (read-only) job checks from running.
  const volume = [...checkFreeSpace(storage.folders), checkLastStorageError(c)];

  const skip = storage.skip;
  if (skip) {
    findings.push(finding('stuck-jobs', skip.level, skip.skip), finding('orphaned-jobs', skip.level, skip.skip));
  } else {
    try {
      findings.push(...await checkJobs({
        queue: ctx.resolve('queue'), results: ctx.resolve('resultStore'), graceMs: (opts.graceSecs ?? 60) * 1000,
        fix: opts.fix === true, visibilityTimeoutSecs: c.visibilityTimeoutSecs,
      }));
    } catch (err) {
      findings.push(jobCheckError(err));
    }
  }
  findings.push(...await backendHealth(ctx, opts, skip === undefined));
  findings.push(...volume, checkManifest(ctx));
  return findings;
}

/**
 * Every chosen backend that implements the optional health() contract reports its own findings. One
 * with a storage checker is built only once its storage is known to be readable (building it would
 * create it); one without (a third party's) is always asked.
 */
async function backendHealth(ctx: PluginContext, opts: DoctorOptions, storageReady: boolean) {
  const out: ReturnType<typeof finding>[] = [];
  const info = ctx.resolve('kernelInfo').services();
  const asked = new Set<unknown>();
  for (const token of STORAGE) {
    const name = info[token]?.selected;
    if (!name || (ctx.healthOf(token) && !storageReady)) continue;
    let backend: unknown;
    try {
      backend = ctx.resolve(token);
    } catch (err) {
      out.push(finding(`${token}-health`, 'FAIL', `the ${token} "${name}" could not be opened: ${messageOf(err)}`, 'fix the backend\'s settings (nuvom config) or its server'));
      continue;
    }
    // One backend may serve several tokens (a store that is also the queue): ask it once.
    if (!hasHealth(backend) || asked.has(backend)) continue;
    asked.add(backend);
    try {
      for (const f of await backend.health({ fix: opts.fix === true, leaseSecs: ctx.config.visibilityTimeoutSecs })) {
        out.push(finding(f.check, f.level, f.detail, f.fix, { ...f.data, backend: `${token}:${name}` }));
      }
    } catch (err) {
      out.push(finding(`${token}-health`, 'FAIL', `the ${token} "${name}" health() threw: ${messageOf(err)}`, 'report this to the plugin\'s authors'));
    }
  }
  return out;
}
