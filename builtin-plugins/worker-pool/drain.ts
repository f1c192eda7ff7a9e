/**
 * Drain: stops claiming, lets running jobs finish within the drain period, aborts the rest (the
 * grace period, then their thread ends or, in-process, they are abandoned), and hands every job not
 * finished back to the queue: started ones keep their attempt, ones never started do not.
 * Must never: return before every outcome and give-back is written.
 */
import type { PoolState } from './state.ts';

/** Waits until `until` holds or the time is up, checking on every tick of `stepMs`. */
async function waitFor(until: () => boolean, deadline: number, stepMs: number): Promise<void> {
  while (!until() && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.max(1, Math.min(stepMs, deadline - Date.now()))));
}

export async function drain(p: PoolState, force: boolean): Promise<void> {
  const { slots, endings, outcomes } = p.parts;
  // Jobs waiting in a host's backlog have not started: they go back like the buffer's.
  for (const t of p.threads) slots.recall(t);
  const drainMs = force ? 0 : p.opts.drainMs ?? 10_000;
  await waitFor(() => p.inflight.size === 0, Date.now() + drainMs, 20);
  for (const e of [...p.inflight.values()]) if (e.phase === 'running') endings.abort(e, 'shutdown');
  await waitFor(() => p.inflight.size === 0, Date.now() + p.s.graceMs, 10);
  const left = [...p.inflight.values()];
  slots.unqueue(left.filter((e) => e.phase === 'backlog'));
  for (const e of left) if (e.phase === 'running') endings.release(e);
  endings.giveBackUnstarted(p.buffer.splice(0));
  p.parts.leases.stop();
  await outcomes.flush();
  await Promise.all(p.releasing);
  await Promise.all(p.threads.map((t) => t.terminate()));
}
