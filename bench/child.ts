/**
 * Entry of every benchmark child process: `node --import tsx bench/child.ts '<scenario json>'`.
 * Each measurement runs in a fresh process so that one does not warm up, fill or slow down the next,
 * and so that memory is measured per process. The scenario's module is imported on demand; modules
 * that start a worker import bench/tasks.ts first, so task() records the module URL the worker
 * threads load. Run by hand (no IPC), the result is printed to stdout as JSON.
 * Must never: keep running after its result is sent.
 */
import { channel } from './common.ts';

type Main = (scenario: never) => unknown;

const MODULES: Record<string, () => Promise<Main>> = {
  'ceiling-sqlite': async () => (await import('./ceiling.ts')).sqliteCeilingMain as Main,
  enqueue: async () => (await import('./enqueue.ts')).enqueueMain as Main,
  process: async () => (await import('./process.ts')).processMain as Main,
  'process-cpu': async () => (await import('./process.ts')).cpuMain as Main,
  'latency-worker': async () => (await import('./latency.ts')).latencyWorkerMain as Main,
  'latency-producer': async () => (await import('./latency.ts')).latencyProducerMain as Main,
  'resources-worker': async () => (await import('./resources.ts')).resourcesWorkerMain as Main,
  'idle-baseline': async () => (await import('./resources.ts')).idleBaselineMain as Main,
  'resources-producer': async () => (await import('./resources.ts')).resourcesProducerMain as Main,
};

async function main(): Promise<void> {
  const scenario = JSON.parse(process.argv[2] ?? '{}') as { kind?: string };
  const load = scenario.kind ? MODULES[scenario.kind] : undefined;
  if (!load) throw new Error(`unknown scenario kind ${JSON.stringify(scenario.kind)}; one of ${Object.keys(MODULES).join(', ')}`);
  const run = await load();
  const data = await run(scenario as never);
  await channel.send({ type: 'result', data });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    const text = err instanceof Error ? err.stack ?? err.message : String(err);
    process.stderr.write(`bench child failed: ${text}\n`);
    void channel.send({ type: 'error', error: text }).finally(() => process.exit(1));
  },
);
