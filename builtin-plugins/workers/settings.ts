/**
 * `[settings.nuvom-workers]`: heartbeat_secs, how often a running worker writes its heartbeat
 * (default 5, at least 1: the pool reports its stats once a second; a worker is shown stale after 3
 * periods without one).
 * Must never: accept an unknown key or a period that is not a positive number silently.
 */
import { NuvomError } from '../../sdk/plugin.ts';

export const PLUGIN_NAME = 'nuvom-workers';
const KNOWN = ['heartbeat_secs'];

export interface WorkersSettings {
  periodMs: number;
}

export function readSettings(raw: Readonly<Record<string, unknown>>): WorkersSettings {
  const unknown = Object.keys(raw).filter((k) => !KNOWN.includes(k));
  if (unknown.length) {
    throw new NuvomError('NUVOM_E_CONFIG', `[settings.${PLUGIN_NAME}] has unknown key(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`, { plugin: PLUGIN_NAME });
  }
  const secs = raw.heartbeat_secs ?? 5;
  if (typeof secs !== 'number' || !Number.isFinite(secs) || secs < 1) {
    throw new NuvomError('NUVOM_E_CONFIG', `[settings.${PLUGIN_NAME}] heartbeat_secs must be a number of seconds >= 1 (e.g. 5; the pool reports its stats once a second), got ${JSON.stringify(secs)}`, { plugin: PLUGIN_NAME });
  }
  return { periodMs: Math.round(secs * 1000) };
}
