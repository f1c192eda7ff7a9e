/**
 * The LISTEN connection of a PostgreSQL pool (db.ts): one pg.Client for every channel a process
 * listens on, reconnected with back-off whenever it drops, telling subscribers to look again after a
 * gap (a NOTIFY may have been missed; the workers' polls cover the gap meanwhile), and once a LISTEN
 * is first in place (a NOTIFY sent between subscribe() and the LISTEN was missed too).
 * Must never: throw into a subscriber's caller, or keep the process alive (its timer is unref'd).
 */
import type { Client } from 'pg';
import { messageOf, type Logger } from '../../sdk/plugin.ts';
import { endOrCut } from './connect.ts';

/** The LISTEN connection: one pg.Client, reconnected with back-off (100 ms doubling to 5 s) whenever it drops. */
export class Listener {
  private client: Client | null = null;
  private readonly subs = new Map<string, Set<(payload: string | null) => void>>();
  private connecting: Promise<void> | null = null;
  private closed = false;
  private backoff = 100;
  private timer: NodeJS.Timeout | null = null;
  /**
   * LISTEN and UNLISTEN on a live connection, one at a time: node-postgres 8 queues a statement sent
   * while another runs, with a deprecation warning (a queue that pg 9 removes).
   */
  private statements: Promise<unknown> = Promise.resolve();

  /** `open` makes a new, unconnected client (db.ts gives the plugin's connection settings). */
  constructor(private readonly open: () => Promise<Client>, private readonly logger?: Logger) {}

  add(channel: string, fn: (payload: string | null) => void): () => void {
    let set = this.subs.get(channel);
    const fresh = !set;
    if (!set) { set = new Set(); this.subs.set(channel, set); }
    set.add(fn);
    if (fresh && this.client) {
      // A channel added to a live connection: its subscribers look once the LISTEN is in place.
      void this.onLive(`LISTEN "${channel}"`).then(() => { for (const f of this.subs.get(channel) ?? []) f(null); }, () => undefined);
    }
    void this.ensure();
    return () => {
      set!.delete(fn);
      if (set!.size === 0) {
        this.subs.delete(channel);
        void this.onLive(`UNLISTEN "${channel}"`).catch(() => undefined);
      }
    };
  }

  /** Runs `sql` on the live connection after the statements sent before it (nothing when there is none). */
  private onLive(sql: string): Promise<unknown> {
    const run = this.statements.then(() => this.client?.query(sql));
    this.statements = run.catch(() => undefined);
    return run;
  }

  private ensure(): Promise<void> {
    if (this.closed || this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    let client: Client | null = null;
    try {
      client = await this.open();
      client.on('error', () => undefined); // followed by 'end', handled below
      await client.connect();
      for (const ch of this.subs.keys()) await client.query(`LISTEN "${ch}"`);
      if (this.closed) { await client.end().catch(() => undefined); return; }
      this.client = client;
      this.backoff = 100;
      client.on('notification', (n) => {
        for (const fn of this.subs.get(n.channel) ?? []) fn(n.payload ?? '');
      });
      client.on('end', () => {
        if (this.client !== client) return;
        this.client = null;
        if (!this.closed) this.retryLater();
      });
      // Before the LISTEN (the first connection, or after a gap) anything may have been missed: every subscriber looks.
      for (const set of this.subs.values()) for (const fn of set) fn(null);
    } catch (err) {
      await client?.end().catch(() => undefined);
      if (!this.closed) {
        this.logger?.debug(`LISTEN connection failed: ${messageOf(err)}; retrying in ${this.backoff} ms (workers poll meanwhile)`);
        this.retryLater();
      }
    }
  }

  private retryLater(): void {
    if (this.timer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 5000);
    this.timer = setTimeout(() => { this.timer = null; void this.ensure(); }, wait);
    this.timer.unref();
    for (const set of this.subs.values()) for (const fn of set) fn(null);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = null;
    // end() waits for the server to close the socket: not on a stalled network (after 10 s, destroyed).
    if (c) await endOrCut(c.end().catch(() => undefined), 10_000, () => (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy());
  }
}
