/**
 * The optional health contract a backend implements for `nuvom doctor`.
 */
export type HealthLevel = 'ok' | 'warn' | 'FAIL';

/** One thing a backend found about itself, as `nuvom doctor` prints it. */
export interface HealthFinding {
  /** A stable name, prefixed with the backend's ("acme-queue-leases"): scripts pick findings by it. */
  check: string;
  level: HealthLevel;
  detail: string;
  /** What to do about it (warn and FAIL). */
  fix?: string;
  /** Machine-readable facts: counts, stuck leases, corrupt entries, what a fix changed. */
  data?: Record<string, unknown>;
}

/**
 * Optional, beside a Queue, ResultStore or ScheduleStore: the backend checks itself (counts, stuck
 * leases, corrupt entries) and, with `fix`, applies the fixes it can. `nuvom doctor` calls it for
 * every chosen backend that has it, built-in or third-party, and prints the findings.
 */
export interface BackendHealth {
  health(opts: { fix: boolean; leaseSecs?: number }): Promise<HealthFinding[]>;
}

/** Whether a backend implements the optional health contract. */
export function hasHealth(backend: unknown): backend is BackendHealth {
  return typeof backend === 'object' && backend !== null && typeof (backend as BackendHealth).health === 'function';
}

