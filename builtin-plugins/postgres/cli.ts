/**
 * `nuvom migrate [--check] [--json]`: brings the PostgreSQL schema (NUVOM_POSTGRES_SCHEMA) to this
 * nuvom's version, under the advisory lock that concurrent starts use too; `--check` only reports.
 * A schema from a newer nuvom is refused (NUVOM_E_STORAGE_SCHEMA, exit 1).
 * Must never: connect when another command runs (the command's action is the only place).
 */
import type { Command } from 'commander';
import { cliFormat, type PluginContext } from '../../sdk/plugin.ts';
import { connectionConfig, pgError } from './db.ts';
import { loadPg } from './driver.ts';
import { LATEST, migrate, schemaVersion } from './schema.ts';
import { pgTarget, type ConnectionSettings } from './settings.ts';

export function addMigrateCommand(program: Command, ctx: PluginContext, settings: () => ConnectionSettings): void {
  program.command('migrate')
    .description('create or upgrade the PostgreSQL schema (NUVOM_POSTGRES_URL, NUVOM_POSTGRES_SCHEMA); safe to run from several hosts at once')
    .option('--check', 'only report the schema version; exit 1 when a migration is pending')
    .option('--json', 'print JSON')
    .addHelpText('after', `\nThis nuvom's schema version is ${LATEST}.\n\nExample:\n  $ NUVOM_POSTGRES_URL=postgres://app@db:5432/app nuvom migrate`)
    .action(async (o: { check?: boolean; json?: boolean }) => {
      const s = settings();
      const target = pgTarget(s);
      const pg = await loadPg();
      const client = new pg.Client(connectionConfig(s, 'nuvom migrate'));
      try {
        await client.connect();
      } catch (err) {
        const e = pgError(err, 'nuvom migrate: connecting', target, false);
        // Run in a project that is not on PostgreSQL (yet): say where the settings go.
        const c = ctx.config as { queueBackend?: string; resultBackend?: string; schedulerBackend?: string };
        if (!s.postgresUrl && ![c.queueBackend, c.resultBackend, c.schedulerBackend].includes('postgres')) {
          e.message += `; this project is not on PostgreSQL (its backends are ${c.queueBackend}, ${c.resultBackend}, ${c.schedulerBackend}): set NUVOM_POSTGRES_URL and the backends (NUVOM_QUEUE_BACKEND=postgres ...) first, as docs/scaling.md says`;
        }
        throw e;
      }
      try {
        const before = await schemaVersion(client, s.postgresSchema).catch((err) => { throw pgError(err, 'nuvom migrate', target); });
        const applied = o.check ? [] : await migrate(client, s.postgresSchema, { apply: true, target: target.shown, logger: ctx.logger });
        const version = o.check ? before : LATEST;
        if (o.json) {
          cliFormat.out(JSON.stringify({ schema: s.postgresSchema, before, version, latest: LATEST, applied }, null, 2));
        } else if (o.check) {
          cliFormat.out(`schema ${s.postgresSchema}: version ${before} of ${LATEST}${before < LATEST ? ' (run nuvom migrate)' : before > LATEST ? ' (newer than this nuvom)' : ' (up to date)'}`);
        } else {
          cliFormat.out(applied.length ? `schema ${s.postgresSchema}: migrated ${before} -> ${LATEST}` : `schema ${s.postgresSchema}: already at version ${LATEST}`);
        }
        if (o.check && before !== LATEST) process.exitCode = 1;
      } finally {
        await client.end().catch(() => undefined);
      }
    });
}
