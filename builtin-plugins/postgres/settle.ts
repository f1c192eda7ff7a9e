/**
 * Settles in one statement, without a transaction around it, for the jobs whose stored record state
 * this process knows: the claim (JobStore.claim, one UPDATE ... RETURNING) hands back what it left in
 * each row (status, attempts, started_at, worker, history), which is all the history merge reads.
 * The settle UPDATE applies a row only while the worker still holds it and the row still holds
 * that state (rows.ts settleSql with its guard), so it writes what the locked read-merge-write
 * transaction would have; a row that changed since is left to that transaction (job-store.ts).
 * Must never: apply an outcome to a row the worker no longer holds, or merge against a stale history.
 */
import type { PgDb } from './db.ts';
import { columns, guardParams, merge, settleSql, type SettleRow, type StoredRow } from './rows.ts';

/** At most this many claimed rows are remembered; past it the oldest go (their settle takes the transaction). */
const MAX_KNOWN = 20_000;

/** The record state each claimed row was left in, by job id, until its settle. */
export class ClaimedRows {
  private readonly rows = new Map<string, StoredRow>();

  remember(rows: readonly StoredRow[]): void {
    for (const r of rows) {
      this.rows.delete(r.id);
      this.rows.set(r.id, r);
    }
    if (this.rows.size > MAX_KNOWN) {
      for (const id of this.rows.keys()) {
        this.rows.delete(id);
        if (this.rows.size <= MAX_KNOWN) break;
      }
    }
  }

  forget(ids: Iterable<string>): void {
    for (const id of ids) this.rows.delete(id);
  }

  get(id: string): StoredRow | undefined {
    return this.rows.get(id);
  }
}

/**
 * Applies, in one statement, the outcomes whose rows are known and given once; returns the ids
 * applied and the outcomes left for the transaction (unknown, repeated, or changed since the claim).
 */
export async function settleKnown(db: PgDb, workerId: string, outcomes: SettleRow[], known: ClaimedRows): Promise<{ applied: string[]; rest: SettleRow[] }> {
  const count = new Map<string, number>();
  for (const o of outcomes) count.set(o.row.id, (count.get(o.row.id) ?? 0) + 1);
  const fast: SettleRow[] = [];
  const rest: SettleRow[] = [];
  for (const o of outcomes) (count.get(o.row.id) === 1 && known.get(o.row.id) ? fast : rest).push(o);
  if (fast.length === 0) return { applied: [], rest };
  const states = fast.map((o) => known.get(o.row.id)!);
  const rows = fast.map((o) => o.row);
  merge(rows, new Map(states.map((st) => [st.id, st])));
  const { rows: done } = await db.query<{ id: string }>('settling jobs', settleSql(db.s, true),
    [...columns(rows), fast.map((o) => o.action), fast.map((o) => o.runAt), workerId, ...guardParams(states), db.jobsChannel]);
  const applied = new Set(done.map((r) => r.id));
  for (const o of fast) if (!applied.has(o.row.id)) rest.push(o);
  return { applied: [...applied], rest };
}
