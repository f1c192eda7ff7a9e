/**
 * The PostgreSQL plugin's storage health (StorageHealth, nuvom/plugin), for `nuvom doctor`: can this
 * process reach the server, is the schema at this nuvom's version, how many jobs wait or are leased
 * (and how many leases ran out). Reads on a connection of its own, without building a service. And
 * `locate()` for the read-only commands (`history recent`, `status`, ...): whether the schema holds
 * nuvom's tables, asked before a store is built, since building one creates the schema (a mistyped
 * NUVOM_POSTGRES_SCHEMA would otherwise show an empty project and leave a new schema behind).
 * Must never: create or migrate the schema (doctor only looks: the job checks are skipped until
 * the schema is at this nuvom's version), or name the server with its password.
 */
import { messageOf, type HealthFinding, type StorageHealth, type StorageHealthReport, type StorageLocation } from '../../sdk/plugin.ts';
import { connectionConfig, pgError } from './db.ts';
import { loadPg } from './driver.ts';
import { LATEST, schemaVersion } from './schema.ts';
import { pgTarget, type ConnectionSettings } from './settings.ts';

const LABELS = { queue: 'queue', resultStore: 'results', scheduleStore: 'schedules' } as const;

const finding = (check: string, level: HealthFinding['level'], detail: string, fix?: string, data?: Record<string, unknown>): HealthFinding =>
  ({ check, level, detail, ...(fix ? { fix } : {}), ...(data ? { data } : {}) });

/** The schema's version (0: no nuvom tables), on a connection of its own. */
async function versionOf(s: ConnectionSettings): Promise<number> {
  const target = pgTarget(s);
  const pg = await loadPg();
  const client = new pg.Client(connectionConfig(s));
  client.on('error', () => undefined); // a cut connection fails the statement instead
  let connected = false;
  try {
    await client.connect();
    connected = true;
    return await schemaVersion(client, s.postgresSchema);
  } catch (err) {
    throw pgError(err, 'checking the nuvom schema', target, connected);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function postgresHealth(settings: () => ConnectionSettings): StorageHealth {
  return {
    async locate(): Promise<StorageLocation> {
      const s = settings();
      return { path: `${pgTarget(s).shown}, schema ${s.postgresSchema}`, exists: (await versionOf(s)) > 0, what: 'PostgreSQL schema', setting: 'NUVOM_POSTGRES_SCHEMA' };
    },
    async health({ services }): Promise<StorageHealthReport> {
      const s = settings();
      const target = pgTarget(s);
      const schema = s.postgresSchema;
      const on = `schema ${schema} at ${target.shown} (${services.map((t) => LABELS[t]).join(', ')})`;
      const pg = await loadPg();
      const client = new pg.Client(connectionConfig(s, 'nuvom doctor'));
      client.on('error', () => undefined);
      try {
        try {
          await client.connect();
        } catch (err) {
          return { findings: [finding('postgres-connection', 'FAIL', messageOf(pgError(err, 'connecting', target, false)), 'start the server or fix the setting named above, then run doctor again')], jobChecks: { skip: 'skipped: fix the storage problem above first', level: 'warn' } };
        }
        let version: number;
        try {
          version = await schemaVersion(client, schema);
        } catch (err) {
          // The schema exists (a missing one reads as version 0), but this user may not read it.
          const denied = (err as { code?: string }).code === '42501';
          const fix = denied ? `as the schema's owner, GRANT USAGE ON SCHEMA ${schema} and SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} to this user` : 'see the error above';
          return { findings: [finding('postgres-schema', 'FAIL', `${on}: ${messageOf(denied ? err : pgError(err, 'reading the schema version', target))}`, fix)], jobChecks: { skip: 'skipped: fix the storage problem above first', level: 'warn' } };
        }
        if (version === 0) {
          return { findings: [finding('postgres-schema', 'warn', `${on} holds no nuvom tables yet`, `nothing to check: \`nuvom migrate\` creates them${s.postgresMigrate ? ', as does the first worker or enqueue' : ' (NUVOM_POSTGRES_MIGRATE=false: nothing else does)'}; if you expected jobs here, check NUVOM_POSTGRES_URL and NUVOM_POSTGRES_SCHEMA`, { version })], jobChecks: { skip: 'no job storage yet', level: 'ok' } };
        }
        if (version > LATEST) {
          return { findings: [finding('postgres-schema', 'FAIL', `${on} is at version ${version}, newer than this nuvom understands (${LATEST})`, 'upgrade nuvom, or set NUVOM_POSTGRES_SCHEMA to another schema', { version, latest: LATEST })], jobChecks: { skip: 'skipped: fix the storage problem above first', level: 'warn' } };
        }
        if (version < LATEST) {
          return { findings: [finding('postgres-schema', 'warn', `${on} is at version ${version}, this nuvom needs ${LATEST}`, 'run `nuvom migrate`', { version, latest: LATEST })], jobChecks: { skip: 'skipped until the schema is migrated (`nuvom migrate`)', level: 'warn' } };
        }
        const findings = [finding('postgres-schema', 'ok', `${on}: version ${version} (up to date)`, undefined, { version })];
        if (services.includes('queue')) {
          const now = Date.now();
          const { rows } = await client.query<{ ready: string; delayed: string; leased: string; expired: string }>(leaseCountsStatement(`"${schema}"`), [now]);
          const [ready, delayed, leased, expired] = [rows[0].ready, rows[0].delayed, rows[0].leased, rows[0].expired].map(Number);
          const counts = `${ready} ready, ${delayed} delayed, ${leased} leased`;
          findings.push(expired
            ? finding('postgres-leases', 'warn', `${counts}; ${expired} lease(s) ran out (their workers died or hung)`, 'nothing is lost: a running worker claims them again; make sure one runs (nuvom runworker)', { ready, delayed, leased, expired })
            : finding('postgres-leases', 'ok', `${counts}; no expired leases`, undefined, { ready, delayed, leased, expired: 0 }));
        }
        return { findings };
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

/**
 * The queue's counts for the postgres-leases check ($1: now, epoch ms). Each count reads the partial
 * index of its q_state (jobs_run_at, jobs_lease), so the check costs the queued rows, not the table:
 * `WHERE q_state IS NOT NULL` matches no index, and was a pass over every record (0.9 s at 1,000,000).
 * @internal
 */
export function leaseCountsStatement(s: string): string {
  return `SELECT (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'waiting' AND run_at <= $1) AS ready,
                 (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'waiting' AND run_at > $1) AS delayed,
                 (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'leased') AS leased,
                 (SELECT count(*) FROM ${s}.jobs WHERE q_state = 'leased' AND lease_expires_at <= $1) AS expired`;
}
