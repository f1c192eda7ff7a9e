// Shared by the PostgreSQL probes: settings, a raw pg client, and CPU readings from /proc.
import fs from 'node:fs';
import pg from 'pg';

export const PG_URL = process.env.NUVOM_PROBE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const config = (schema) => ({ queueBackend: 'postgres', resultBackend: 'postgres', schedulerBackend: 'postgres', postgresUrl: PG_URL, postgresSchema: schema });

export async function sql(...statements) {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try { for (const s of statements) await c.query(s); } finally { await c.end(); }
}

const fields = (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');
const ticksMs = (f) => (Number(f[11]) + Number(f[12])) * 10; // utime + stime, CLK_TCK 100

/** CPU ms used so far by every `postgres` process of this machine (the server, all its backends). */
export function serverCpuMs() {
  let ms = 0;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')) === 'postgres') ms += ticksMs(fields(s));
    } catch { /* the process ended */ }
  }
  return ms;
}

/** CPU ms so far of each thread of this process ('main', else the thread id). */
export function threadCpuMs() {
  const out = {};
  for (const t of fs.readdirSync('/proc/self/task')) {
    try { out[t === String(process.pid) ? 'main' : t] = ticksMs(fields(fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8'))); } catch { /* ended */ }
  }
  return out;
}

export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
