/**
 * Job ids by unique prefix, as git takes hashes: the CLI's `status`, `inspect`, `retry` and `cancel`
 * (and the dashboard) accept the first characters of an id. An exact id always wins; a prefix of at
 * least MIN_ID_PREFIX characters resolves when one record's id starts with it.
 * Must never: guess between candidates; an ambiguous prefix is an error listing them.
 */
import { NuvomError } from '../kernel/index.ts';
import type { JobsService } from './services.ts';

/** Shorter input is only ever an exact id: a 3-character prefix would match by accident. */
export const MIN_ID_PREFIX = 6;
/** How many candidates an ambiguous prefix lists. */
const SHOWN = 10;

/** The full id of the job `idOrPrefix` names; NUVOM_E_JOB_NOT_FOUND or NUVOM_E_JOB_AMBIGUOUS. */
export async function resolveJobId(jobs: Pick<JobsService, 'getJob' | 'listJobs'>, idOrPrefix: string): Promise<string> {
  if (await jobs.getJob(idOrPrefix)) return idOrPrefix;
  if (idOrPrefix.length < MIN_ID_PREFIX) {
    throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${idOrPrefix}"${idOrPrefix.length ? ` (a prefix of an id needs at least ${MIN_ID_PREFIX} characters)` : ''}`);
  }
  // A store that ignores idPrefix returns other ids: keep only the matching ones.
  const found = (await jobs.listJobs({ idPrefix: idOrPrefix, limit: SHOWN + 1, order: 'desc' })).filter((r) => r.id.startsWith(idOrPrefix));
  // The message every command printed before prefixes: scripts may match it.
  if (found.length === 0) throw new NuvomError('NUVOM_E_JOB_NOT_FOUND', `no job with id "${idOrPrefix}"`);
  if (found.length === 1) return found[0].id;
  const list = found.slice(0, SHOWN).map((r) => `${r.id} (${r.taskName}, ${r.status}, created ${r.createdAt})`).join('; ');
  throw new NuvomError('NUVOM_E_JOB_AMBIGUOUS', `the id prefix "${idOrPrefix}" matches ${found.length > SHOWN ? `more than ${SHOWN}` : found.length} jobs: ${list}; give more characters of the id`);
}
