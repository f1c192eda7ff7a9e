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


/** The storage services `nuvom doctor` and the read-only commands ask a health checker about. */
export type StorageToken = 'queue' | 'resultStore' | 'scheduleStore';

export interface StorageHealthOptions {
  /** The services config chose this implementation for (one checker may serve several). */
  services: StorageToken[];
  /** Apply the fixes it can (`nuvom doctor --fix`), and say so in the findings. */
  fix: boolean;
  /** The configured lease length, for judging expired leases. */
  leaseSecs: number;
}

export interface StorageHealthReport {
  findings: HealthFinding[];
  /**
   * Set when the job checks cannot read through these services now (no storage yet, storage that is
   * not nuvom's, storage that failed a check above, jobs only inside each process): why, and how
   * serious. Doctor then skips them (and does not build the services, which would create storage).
   */
  jobChecks?: { skip: string; level: HealthLevel };
  /** The folders the data lives in (the nearest existing one for a path not created yet), for doctor's free-space check. */
  folders?: Array<{ path: string; services: string[]; setting?: string }>;
}

/** Where a service keeps its data, for commands that must not create it. */
export interface StorageLocation {
  path: string;
  exists: boolean;
  /** What it is, for messages: "database", "result folder". */
  what: string;
  /** The setting (its variable) that moves it, such as NUVOM_SQLITE_PATH. */
  setting?: string;
}

/**
 * Optional, provided beside a storage service's factory (`ctx.provide(token, name, factory, dispose,
 * { health })`): checks the backend's storage without building the service, so without opening or
 * creating anything (a missing file is a finding, not an error). `nuvom doctor` reports every chosen
 * storage implementation through it (the built-in SQLite and file plugins' checks live there), and
 * the read-only commands ask `locate` where the data is before they run.
 */
export interface StorageHealth {
  health(opts: StorageHealthOptions): StorageHealthReport | Promise<StorageHealthReport>;
  /** Where `service`'s data lives; null (or no method) when there is nothing to look for. A server's store answers after asking it. */
  locate?(service: StorageToken): StorageLocation | null | Promise<StorageLocation | null>;
  /** The data lives inside each process and dies with it (nothing on a volume to report). */
  readonly inProcess?: boolean;
}
