/**
 * nuvom-workers (in the default preset): worker heartbeats, `nuvom workers`, and the `workers`
 * service the dashboard reads. It writes heartbeats by tapping the worker pool's public observer
 * hooks, through the result store's optional HeartbeatStore contract (memory, SQLite, file), so the
 * pool knows nothing about it and a third-party store opts in by implementing three methods.
 * Must never: touch the pool, or resolve the result store in a process that runs no worker before
 * something asks for the workers list.
 */
import { definePlugin, type NuvomPlugin } from '../../sdk/plugin.ts';
import { addWorkersCommand } from './cli.ts';
import { HeartbeatWriter } from './heartbeat.ts';
import { PLUGIN_NAME, readSettings } from './settings.ts';
import { listWorkers, type WorkerView } from './view.ts';

export { listWorkers, hasHeartbeats, STALE_PERIODS, type WorkerView } from './view.ts';

/** The `workers` service. */
export interface WorkersService {
  /** Workers with a heartbeat row, live ones first; empty when the result store keeps no heartbeats. */
  list(): Promise<WorkerView[]>;
}

declare module '../../sdk/plugin.ts' {
  interface Services {
    workers: WorkersService;
  }
}

export function createWorkersPlugin(): NuvomPlugin {
  let writer: HeartbeatWriter | null = null;
  return definePlugin({
    name: PLUGIN_NAME,
    apiVersion: 1,
    description: 'worker heartbeats through the result store, `nuvom workers`, and the workers service the dashboard reads',
    provides: ['cli', 'workers:default'],
    needs: ['resultStore'],
    register(ctx) {
      ctx.provide('workers', 'default', (s) => ({ list: () => listWorkers(s.resultStore) }));
      ctx.hooks.cli.tap(PLUGIN_NAME, ({ program }) => addWorkersCommand(program, ctx));
    },
    async start(raw, ctx) {
      const { periodMs } = readSettings(raw);
      writer = new HeartbeatWriter(() => ctx.resolve('resultStore'), periodMs, ctx.logger);
      writer.tap(ctx.hooks, PLUGIN_NAME);
    },
    async stop() {
      await writer?.close();
      writer = null;
    },
  });
}

export default createWorkersPlugin();
