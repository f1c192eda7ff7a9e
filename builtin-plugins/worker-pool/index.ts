/**
 * Worker pool plugin: the `workerPool` service (worker_threads) and the `nuvom runworker` command.
 * What only the commands use (dev mode, the status line, runtestworker) is imported by them, not
 * here: an application's createClient() does not load it.
 */
import { definePlugin, isNuvomError, jobStoreOf, NuvomError, type PluginContext, type RunningWorker } from '../../sdk/plugin.ts';
import { WorkerPool, type PoolOptions } from './pool.ts';
import { poolSettings } from './settings.ts';
import { POOL_HOOKS } from './events.ts';

export { WorkerPool };
export type { PoolStats, ThreadEvent, WorkerEvent } from './events.ts';

function wholeNumber(flag: string, min: number, hint = '') {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new NuvomError('NUVOM_E_USAGE', `${flag} must be a whole number >= ${min}${hint}, got "${v}"`);
    return n;
  };
}
const positiveInt = (flag: string) => wholeNumber(flag, 1);

/** `nuvom runtestworker run`: see test-worker.ts. */
async function runTestJob(ctx: PluginContext, file: string, taskModule: string | undefined): Promise<void> {
  const m = await import('./test-worker.ts');
  await m.runTestJob(ctx, file, taskModule);
}

const MEMORY_IN_PROCESS_FIX = 'to cap the whole worker process, start it with node --max-old-space-size=N; to fail a task that allocates too much, by itself, run it in worker threads (threads 1 or more)';

/** Why a memory limit asked for in-process is refused: it would limit nothing. */
function inProcessMemoryLimit(what: string, option: string, threads: string): string {
  return `${what} limits each worker thread's heap, and in-process mode (threads 0, NUVOM_MAX_WORKERS=0) has no worker threads: tasks share the worker's own memory and nothing would be limited; drop ${option}, or use ${threads} or more (to cap the whole worker process instead: node --max-old-space-size=N)`;
}

/** Runs a worker in the foreground until SIGINT/SIGTERM (drain) or a second signal (force). */
async function runWorker(ctx: PluginContext, opts: PoolOptions & { withScheduler?: boolean; dev?: boolean }): Promise<void> {
  if (opts.dev && (opts.threads ?? ctx.config.maxWorkers) === 0) {
    throw new NuvomError('NUVOM_E_USAGE', '--dev reloads task modules by swapping worker threads, which in-process mode (--threads 0, NUVOM_MAX_WORKERS=0) has none of; use --threads 1 or more with --dev');
  }
  if (opts.memoryLimitMb && (opts.threads ?? ctx.config.maxWorkers) === 0) {
    throw new NuvomError('NUVOM_E_USAGE', inProcessMemoryLimit(`--memory-limit-mb ${opts.memoryLimitMb}`, '--memory-limit-mb', '--threads 1'));
  }
  const [{ ensureManifest, watchSources }, { StatusLog, statusLine }] = await Promise.all([import('./dev.ts'), import('./status-line.ts')]);
  const statusOf = (w: RunningWorker, started: number): string => statusLine(w.stats(), started);
  await ensureManifest(ctx);
  const worker = await ctx.resolve('workerPool').start(opts);
  const log = ctx.logger;
  const unwatch = opts.dev ? watchSources(ctx, worker) : null;
  let scheduler: { stop(): Promise<void> } | null = null;
  if (opts.withScheduler) scheduler = ctx.resolve('scheduler').run({});
  const inProcess = (opts.threads ?? ctx.config.maxWorkers) === 0;
  const where = inProcess ? 'in-process (threads 0)' : `${worker.stats().threads} thread(s)`;
  // In-process, a task's forgotten rejected promise would end this process (Node's default), with
  // every job it runs: logged instead, as a worker thread's would only end that thread.
  const onRejection = (reason: unknown) => log.error(`a task left a promise rejected with nothing to catch it (in-process mode: this worker goes on): ${reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)}`);
  if (inProcess) process.on('unhandledRejection', onRejection);
  log.info(`worker ${worker.id} started: ${where}, queue ${ctx.config.queueBackend}, results ${ctx.config.resultBackend}`);
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  const quiet = new StatusLog();
  const ticker = setInterval(() => {
    if (tty) process.stderr.write(`\r\x1b[2K${statusOf(worker, started)}`);
    else if (quiet.shouldLog(worker.stats())) log.info(statusOf(worker, started));
  }, tty ? 500 : quiet.checkMs);
  ticker.unref();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (tty) process.stderr.write('\n');
    if (signals === 1) {
      log.info(`${sig}: draining (running jobs get up to ${(opts.drainMs ?? 10_000) / 1000}s; send ${sig} again to force)`);
      void scheduler?.stop();
      void worker.stop();
    } else {
      log.warn(`${sig} again: forcing stop; unfinished jobs go back to the queue`);
      void worker.stop({ force: true });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await worker.done; // a burst run whose claim failed throws here: runworker exits 1 with the error
  } catch (err) {
    // The worker stopped itself and logged why (its threads cannot start...): exit 1 without saying it twice.
    if (!isNuvomError(err, 'NUVOM_E_WORKER_CRASHED')) throw err;
    process.exitCode = 1;
  } finally {
    unwatch?.();
    await scheduler?.stop();
    clearInterval(ticker);
    if (tty) process.stderr.write('\n');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onRejection);
    log.info(`worker stopped: ${statusOf(worker, started)}`);
  }
}

export default definePlugin({
  name: 'nuvom-worker-pool',
  apiVersion: 1,
  description: 'runs jobs in a pool of worker threads (or in-process); `nuvom runworker`',
  provides: ['workerPool', 'cli'],
  dependsOn: ['nuvom-registry'],
  needs: ['queue', 'resultStore', 'serializer', 'registry', 'scheduler?', 'discovery?'],
  settings: poolSettings,
  hooks: POOL_HOOKS,
  register(ctx) {
    ctx.provide('workerPool', 'threads', (s) => ({
      start: (o: PoolOptions = {}) => {
        // A heap limit is a worker thread's (resourceLimits): in-process there is no thread to give one to.
        const inProcess = (o.threads ?? s.config.maxWorkers) === 0;
        if (inProcess && o.memoryLimitMb) throw new NuvomError('NUVOM_E_CONFIG', inProcessMemoryLimit(`worker option memoryLimitMb (${o.memoryLimitMb})`, 'memoryLimitMb', 'threads: 1'));
        if (inProcess && s.config.memoryLimitMb) {
          s.logger.warn(`NUVOM_MEMORY_LIMIT_MB (memoryLimitMb ${s.config.memoryLimitMb}) has no effect in-process (threads 0): no task's memory is limited here; ${MEMORY_IN_PROCESS_FIX}`);
        }
        return new WorkerPool({
          config: s.config, queue: s.queue, resultStore: s.resultStore, store: jobStoreOf(s), serializer: s.serializer, registry: s.registry, bus: s.bus, logger: s.logger,
        }, { ...o, memoryLimitMb: inProcess ? undefined : o.memoryLimitMb ?? (s.config.memoryLimitMb || undefined) }).start();
      },
    }));
    ctx.hooks.cli.tap('nuvom-worker-pool', ({ program }) => {
      program.command('runworker')
        .description('run the worker pool in the foreground; SIGINT/SIGTERM drain and stop, a second signal forces')
        .option('--threads <n>', 'worker threads (default NUVOM_MAX_WORKERS); 0 runs jobs in-process, on the worker\'s main thread (async tasks; a timeout only aborts the signal)', wholeNumber('--threads', 0, ' (0: in-process)'))
        .option('--concurrency <n>', 'jobs at once per thread, for async tasks (default 1)', positiveInt('--concurrency'))
        .option('--batch-size <n>', 'most jobs claimed ahead of free slots (default NUVOM_BATCH_SIZE, 500)', positiveInt('--batch-size'))
        .option('--burst', 'exit once no job is ready to run now and nothing runs here (delayed jobs do not count; its own retries do)')
        .option('--drain-secs <n>', 'how long running jobs get to finish on SIGINT/SIGTERM (default 10)', positiveInt('--drain-secs'))
        .option('--with-scheduler', 'also run the scheduler loop in this process')
        .option('--memory-limit-mb <n>', 'heap limit per worker thread (default NUVOM_MEMORY_LIMIT_MB); a task that exceeds it fails and its thread is replaced', positiveInt('--memory-limit-mb'))
        .option('--dev', 'watch sources, re-discover and reload task modules on change')
        .addHelpText('after', '\nExample:\n  $ nuvom runworker --threads 2 --concurrency 10')
        .action(async (o: { threads?: number; concurrency?: number; batchSize?: number; burst?: boolean; drainSecs?: number; withScheduler?: boolean; dev?: boolean; memoryLimitMb?: number }) => {
          await runWorker(ctx, {
            threads: o.threads, concurrency: o.concurrency, batchSize: o.batchSize, burst: o.burst, memoryLimitMb: o.memoryLimitMb,
            drainMs: o.drainSecs === undefined ? undefined : o.drainSecs * 1000, withScheduler: o.withScheduler, dev: o.dev,
          });
        });
      program.command('runtestworker').description('developer tools for running jobs by hand')
        .command('run')
        .description('run one job from a JSON file in this process: no queue, no storage')
        .argument('<jobFile>', 'JSON such as { "taskName": "add", "args": [2, 3] }')
        .option('--task-module <path>', 'module that defines the task (default: found through the manifest)')
        .addHelpText('after', '\nExample:\n  $ echo \'{ "taskName": "add", "args": [2, 3] }\' > job.json\n  $ nuvom runtestworker run job.json --task-module tasks.ts')
        .action((file: string, o: { taskModule?: string }) => runTestJob(ctx, file, o.taskModule));
    });
  },
});
