/**
 * The PostgreSQL plugin's own settings (plugin-owned settings, docs/plugins.md "Settings"): read from
 * flags, NUVOM_POSTGRES_* (environment and .env), the config file and `[settings.nuvom-postgres]`,
 * validated, shown in `nuvom config`. An empty postgresUrl leaves the connection to libpq's PG*
 * variables (environment over .env, handed to pg: ConnectionSettings). `readSettings` is the same parsing for code that has no kernel (tests, scripts).
 * Must never: import pg, or accept a schema name that would need quoting games in SQL.
 */
import { NuvomError, type SettingSpec as KernelSettingSpec } from '../../sdk/plugin.ts';

declare module '../../sdk/plugin.ts' {
  interface NuvomSettings {
    postgresUrl: string;
    postgresSchema: string;
    postgresPoolSize: number;
    postgresMigrate: boolean;
  }
}

export const PLUGIN_NAME = 'nuvom-postgres';

export interface PostgresSettings {
  /** A connection string; '' means "libpq's PG* variables and pg's defaults". */
  postgresUrl: string;
  postgresSchema: string;
  postgresPoolSize: number;
  /** Run pending migrations when a service first connects (under an advisory lock). */
  postgresMigrate: boolean;
}

interface SettingSpec<T> {
  env: string;
  default: T;
  doc: string;
  parse: (raw: unknown) => T;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;
/**
 * The longest schema name: the NOTIFY channels are named `<schema>_jobs` and `<schema>_done`, and
 * PostgreSQL refuses a channel name of 64 bytes or more (pg_notify: "channel name too long"), so a
 * longer schema migrated and then failed every enqueue.
 */
const SCHEMA_MAX = 58;

/** The declarations the kernel reads (env, doc, default, parse). */
export function postgresSettings(): { [K in keyof PostgresSettings]: KernelSettingSpec<PostgresSettings[K]> } {
  return Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, { env: v.env, doc: v.doc, default: v.default, parse: v.parse }])) as never;
}

export const SETTINGS: { [K in keyof PostgresSettings]: SettingSpec<PostgresSettings[K]> } = {
  postgresUrl: {
    env: 'NUVOM_POSTGRES_URL', default: '',
    doc: 'PostgreSQL connection string (postgres://user@host:5432/db); unset: libpq PG* variables (PGHOST, PGDATABASE, ...)',
    parse: (raw) => {
      const s = String(raw).trim();
      if (s === '') return '';
      let url: URL;
      try { url = new URL(s); } catch { throw new Error('expected a connection string such as postgres://user@127.0.0.1:5432/app'); }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error(`expected a postgres:// or postgresql:// URL, got ${url.protocol}//...`);
      return s;
    },
  },
  postgresSchema: {
    env: 'NUVOM_POSTGRES_SCHEMA', default: 'nuvom',
    doc: 'the PostgreSQL schema holding nuvom\'s tables (one per app sharing a database)',
    parse: (raw) => {
      const s = String(raw).trim();
      if (!SCHEMA_NAME.test(s)) throw new Error(`expected a lower-case schema name: letters, digits and "_", not starting with a digit, at most ${SCHEMA_MAX} characters`);
      if (s.length > SCHEMA_MAX) {
        throw new Error(`"${s}" has ${s.length} characters; at most ${SCHEMA_MAX}: nuvom names its NOTIFY channels <schema>_jobs and <schema>_done, and PostgreSQL limits a channel name to 63; choose a shorter name`);
      }
      // PostgreSQL refuses to create these ("unacceptable schema name"): say so before connecting.
      if (s.startsWith('pg_')) throw new Error('names starting with "pg_" are reserved by PostgreSQL for system schemas; choose another, such as nuvom');
      // It would take nuvom's tables (migrate put them there) among the server's own views.
      if (s === 'information_schema') throw new Error('information_schema is PostgreSQL\'s own schema (the SQL standard\'s catalog views); choose another, such as nuvom');
      return s;
    },
  },
  postgresPoolSize: {
    env: 'NUVOM_POSTGRES_POOL_SIZE', default: 10,
    doc: 'connections each process may open (plus one for LISTEN, and a worker one for claims)',
    parse: (raw) => {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('expected a whole number from 1 to 1000');
      return n;
    },
  },
  postgresMigrate: {
    env: 'NUVOM_POSTGRES_MIGRATE', default: true,
    doc: 'run pending schema migrations at start (false: only `nuvom migrate` does)',
    parse: (raw) => {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      throw new Error('expected true or false');
    },
  },
};

/**
 * The settings from `env` (NUVOM_POSTGRES_* first) and the plugin's TOML table, whose keys are the
 * setting names as the loader reads `[settings.nuvom-postgres]` (postgresUrl = "..."); a bad value is
 * NUVOM_E_CONFIG naming where it came from.
 */
export function readSettings(env: Readonly<Record<string, string | undefined>>, table: Readonly<Record<string, unknown>> = {}): PostgresSettings {
  const known = Object.keys(SETTINGS);
  const unknown = Object.keys(table).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new NuvomError('NUVOM_E_CONFIG', `[settings.${PLUGIN_NAME}] has unknown key(s) ${unknown.join(', ')}; known: ${known.join(', ')}`, { plugin: PLUGIN_NAME });
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as Array<[keyof PostgresSettings, SettingSpec<unknown>]>) {
    const fromEnv = env[spec.env];
    const [raw, where] = fromEnv !== undefined && fromEnv !== ''
      ? [fromEnv, spec.env]
      : table[key] !== undefined ? [table[key], `[settings.${PLUGIN_NAME}] ${key}`] : [undefined, ''];
    if (raw === undefined) { out[key] = spec.default; continue; }
    try {
      out[key] = spec.parse(raw);
    } catch (err) {
      const shown = key === 'postgresUrl' ? redact(String(raw)) : JSON.stringify(raw);
      throw new NuvomError('NUVOM_E_CONFIG', `${where} = ${shown}: ${(err as Error).message}`, { plugin: PLUGIN_NAME });
    }
  }
  return out as unknown as PostgresSettings;
}

/** libpq's variables a connection reads when postgresUrl is empty (docs/scaling.md), and PGOPTIONS (session settings). */
const LIBPQ = ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGOPTIONS'] as const;

/**
 * What a connection needs: the plugin's settings, and libpq's variables as the loader read them
 * (environment over .env; pg itself reads only the environment). Without `libpq`, pg reads them from
 * process.env.
 */
export interface ConnectionSettings extends PostgresSettings {
  libpq?: Readonly<Record<string, string>>;
}

/** The libpq variables set (not empty) in `vars`. */
export function libpqVariables(vars: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(LIBPQ.flatMap((k) => (vars[k] ? [[k, vars[k]]] : [])));
}

/** The server connections go to, for messages (password hidden), and where each part of it is set. */
export interface PgTarget {
  shown: string;
  server: string;
  host: string;
  database: string;
  login: string;
}

export function pgTarget(s: ConnectionSettings): PgTarget {
  if (s.postgresUrl) {
    const url = 'NUVOM_POSTGRES_URL';
    return { shown: redact(s.postgresUrl), server: url, host: url, database: url, login: url };
  }
  const v = s.libpq ?? process.env;
  // As pg defaults them: localhost, 5432, the database named after the user.
  const user = v.PGUSER ? `${v.PGUSER}@` : '';
  return {
    shown: `${user}${v.PGHOST ?? 'localhost'}:${v.PGPORT ?? '5432'}/${v.PGDATABASE ?? v.PGUSER ?? '(default)'} (PG* variables, NUVOM_POSTGRES_URL unset)`,
    server: 'PGHOST/PGPORT',
    host: 'PGHOST',
    database: 'PGDATABASE',
    login: 'PGUSER/PGPASSWORD',
  };
}

/** A connection string with its password replaced, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
