/**
 * One connection kept out of a pool for single statements (an enqueue, a getJob, a batch of
 * first-attempt outcomes), so a statement skips the pool's checkout and release (its callbacks,
 * events and idle timer: ~15 us of CPU a delay(), docs/benchmarks.md) and runs as a named Query
 * (driver.ts submitNamed). A statement arriving while it is busy goes through the pool.
 * Must never: make anyone wait for a connection (it goes back to the pool whenever a transaction or a
 * statement would wait), keep the process alive while idle (a script that never calls close() still
 * ends), or crash the process when its connection is cut while idle.
 */
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { messageOf } from '../../sdk/plugin.ts';
import { isConnectionLost, named, submitNamed } from './driver.ts';

/** Whether a connection's socket keeps the process alive (pg's Client ref()/unref(), not in its types). */
function keepsAlive(c: PoolClient, on: boolean): void {
  const client = c as unknown as { ref?: () => void; unref?: () => void };
  if (on) client.ref?.();
  else client.unref?.();
}

export class KeptConnection {
  private client: PoolClient | null = null;
  private busy = false;
  private closed = false;
  /**
   * The kept connection's 'error' listener. Cut while idle (the server's idle_session_timeout, a
   * restart): given back broken at once, so the next statement takes a fresh connection instead of
   * failing on this one and being retried. Cut mid-statement: that statement fails (done()).
   */
  private readonly cut = (err: unknown): void => {
    if (!this.busy) this.yield(err instanceof Error ? err : new Error(messageOf(err)));
  };

  /** `size`: the most connections `pool` opens. */
  constructor(private readonly pool: Pool, private readonly size: number) {}

  /** One statement: on the kept connection when it is free, else through the pool. */
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    const pool = this.pool;
    const c = this.client;
    if (this.busy || this.closed) return pool.query<R>(named(text, values));
    if (c) return this.run(c, text, values);
    // None kept: take one, unless that would leave the pool short (a caller waits, or none is left).
    if (pool.waitingCount > 0 || this.short()) return pool.query<R>(named(text, values));
    this.busy = true;
    return pool.connect().then((client) => {
      client.on('error', this.cut);
      this.client = client;
      return this.run<R>(client, text, values, true);
    }, (err: unknown) => {
      this.busy = false;
      throw err;
    });
  }

  /** Before a transaction takes a connection: the kept one goes back when the pool has none to spare. */
  yieldIfShort(): void {
    if (this.short()) this.yield();
  }

  /** Gives the kept connection back (a busy one, when its statement ends) and keeps none from now on. */
  close(): void {
    this.closed = true;
    this.yield();
  }

  private short(): boolean {
    return this.pool.idleCount === 0 && this.pool.totalCount >= this.size;
  }

  private run<R extends QueryResultRow>(c: PoolClient, text: string, values: unknown[] | undefined, busy = false): Promise<QueryResult<R>> {
    if (!busy) this.busy = true;
    keepsAlive(c, true); // not while idle (done)
    return submitNamed<R>(c, text, values).then((r) => {
      this.done(c);
      return r;
    }, (err: unknown) => {
      this.done(c, isConnectionLost(err) ? err : undefined);
      throw err;
    });
  }

  /** Its statement ended: keep it (idle, it does not keep the process alive), give it back (someone waits, closing) or drop it (lost). */
  private done(c: PoolClient, lost?: unknown): void {
    this.busy = false;
    if (this.client !== c) return;
    if (lost !== undefined || this.closed || this.pool.waitingCount > 0) this.yield(lost);
    else keepsAlive(c, false);
  }

  /** Gives the kept connection back to the pool (destroyed when `lost`), unless a statement is running on it. */
  private yield(lost?: unknown): void {
    const c = this.client;
    if (!c || this.busy) return;
    this.client = null;
    c.off('error', this.cut);
    keepsAlive(c, true); // as every pool connection (a transaction on it keeps the process alive)
    c.release(lost instanceof Error ? lost : lost !== undefined ? new Error(messageOf(lost)) : undefined);
  }
}
