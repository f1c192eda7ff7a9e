/**
 * The PostgreSQL plugin's StorageHealth, provided beside its factories: `nuvom doctor` reports the
 * server and the schema's version, and the read-only commands (`history recent`, `status`, ...)
 * learn whether the schema exists before a store is built, since building one creates it (a
 * mistyped NUVOM_POSTGRES_SCHEMA would otherwise show an empty project and leave a new schema).
 * Must never: migrate or create anything; keep its connection open.
 */
import { NuvomError, type HealthFinding, type StorageHealth, type StorageHealthReport, type StorageLocation } from '../../sdk/plugin.ts';
import { connectionConfig, pgError } from './db.ts';
import { loadPg } from './driver.ts';
import { LATEST, schemaVersion } from './schema.ts';
import { redact, type PostgresSettings } from './settings.ts';

/** The schema's version (0: no nuvom tables), on a connection of its own. */
async function versionOf(s: PostgresSettings, target: string): Promise<number> {
  const pg = await loadPg();
  const client = new pg.Client(connectionConfig(s));
  client.on('error', () => undefined); // a cut connection fails the statement instead
  try {
    await client.connect();
    return await schemaVersion(client, s.postgresSchema);
  } catch (err) {
    throw pgError(err, 'checking the nuvom schema', target);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function postgresHealth(settings: () => PostgresSettings): StorageHealth {
  const targetOf = (s: PostgresSettings) => (s.postgresUrl ? redact(s.postgresUrl) : '(PG* variables)');
  return {
    async locate(): Promise<StorageLocation> {
      const s = settings();
      const target = targetOf(s);
      return { path: `${target}, schema ${s.postgresSchema}`, exists: (await versionOf(s, target)) > 0, what: 'PostgreSQL schema', setting: 'NUVOM_POSTGRES_SCHEMA' };
    },
    async health(): Promise<StorageHealthReport> {
      const s = settings();
      const target = targetOf(s);
      const data = { target, schema: s.postgresSchema, latest: LATEST };
      let version: number;
      try {
        version = await versionOf(s, target);
      } catch (err) {
        const e = err instanceof NuvomError ? err : pgError(err, 'checking the nuvom schema', target);
        return { findings: [{ check: 'postgres', level: 'FAIL', detail: e.message, fix: 'start the server, or fix NUVOM_POSTGRES_URL', data: { ...data, code: e.code } }], jobChecks: { skip: 'skipped: fix the storage problem above first', level: 'warn' } };
      }
      const finding = (level: HealthFinding['level'], detail: string, fix?: string): HealthFinding => ({ check: 'postgres', level, detail, ...(fix ? { fix } : {}), data: { ...data, version } });
      if (version === 0) {
        // Building the stores for the job checks would create the schema: nothing to check yet.
        return { findings: [finding('warn', `schema ${s.postgresSchema} at ${target} holds no nuvom tables: no job has been stored there`, `if your jobs are elsewhere, set NUVOM_POSTGRES_SCHEMA (and NUVOM_POSTGRES_URL) to where they are; a new deployment creates it with \`nuvom migrate\` or its first worker`)], jobChecks: { skip: 'no job storage yet', level: 'ok' } };
      }
      if (version > LATEST) {
        return { findings: [finding('FAIL', `schema ${s.postgresSchema} at ${target} is at version ${version}, newer than this nuvom understands (${LATEST})`, 'upgrade nuvom')], jobChecks: { skip: 'skipped: fix the storage problem above first', level: 'warn' } };
      }
      if (version < LATEST) {
        return { findings: [finding('warn', `schema ${s.postgresSchema} at ${target} is at version ${version} of ${LATEST}`, s.postgresMigrate ? 'the next process that connects migrates it, or run `nuvom migrate`' : 'run `nuvom migrate` (NUVOM_POSTGRES_MIGRATE is false)')], ...(s.postgresMigrate ? {} : { jobChecks: { skip: 'skipped: the schema needs `nuvom migrate` first', level: 'warn' as const } }) };
      }
      return { findings: [finding('ok', `schema ${s.postgresSchema} at ${target}: version ${version} (up to date)`)] };
    },
  };
}
