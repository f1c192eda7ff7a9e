/**
 * `createClient()`: boots the kernel with a preset (the default distribution unless told otherwise)
 * and the plugins listed in .nuvom_plugins.toml, from the same configuration the CLI reads, and offers
 * job control and an in-process worker. The first client created also serves `task().delay()` (the default client), so
 * an application that creates one client and starts a worker on the memory backend talks to itself.
 */
import type {
  ConfigKey, Preset, PresetEntry, JobRecord, JobStats, Kernel, ListJobsFilter, Logger, NuvomConfig, NuvomPlugin, ScheduleEntry, Trigger,
} from '../kernel/index.ts';
import type { JobsService, RunningWorker, WorkerOptions } from './services.ts';
import type { ResultType, TaskArgsOf, TaskName, TaskResultOf } from './task-map.ts';
import { ownModuleUrl } from './own-files.ts';
import { NuvomError } from '../kernel/errors.ts';
import { taskTable, type AnyTask, type EnqueueOptions, type JobHandle, type ResultOptions, type ScheduleHandle, type TaskDispatch } from './task.ts';

export interface ClientOptions {
  /** Working directory whose configuration is read (default process.cwd()). */
  cwd?: string;
  /** Settings that override every other source (as CLI flags do). */
  config?: Partial<Record<ConfigKey, unknown>> & Record<string, unknown>;
  /**
   * The preset to boot (`nuvom/presets/default` unless given; `nuvom/presets/core` enqueues and reads
   * results without the worker pool, discovery or the CLI's plugins).
   */
  preset?: Preset;
  /** Extra plugin objects, applied after the preset's and the TOML-listed ones; one named like a preset plugin replaces it. */
  plugins?: NuvomPlugin[];
  /** Names of preset plugins to leave out (never imported). */
  disable?: string[];
  logger?: Logger;
  /** Environment to read NUVOM_* from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface Client {
  readonly config: NuvomConfig;
  readonly kernel: Kernel;
  getJob(id: string): Promise<JobRecord | null>;
  listJobs(filter?: ListJobsFilter): Promise<JobRecord[]>;
  retryJob(id: string): Promise<JobRecord>;
  cancelJob(id: string): Promise<'cancelled' | 'signalled'>;
  /** Waits for a job's result. `result<'add'>(id)` types it as task "add"'s result when .nuvom/tasks.d.ts is included. */
  result<T = unknown>(id: string, opts?: ResultOptions): Promise<ResultType<T>>;
  stats(sinceMs?: number): Promise<JobStats>;
  /**
   * Enqueues a job by task name (the task need not be imported here; options come from the registry).
   * With the declaration file `nuvom discover tasks` writes (.nuvom/tasks.d.ts) in the compilation,
   * the name and the arguments are type-checked and `handle.result()` has the task's result type.
   */
  enqueue<N extends TaskName>(taskName: N, args: TaskArgsOf<N>, opts?: Omit<EnqueueOptions<unknown[]>, 'args'>): Promise<JobHandle<TaskResultOf<N>>>;
  startWorker(opts?: WorkerOptions): Promise<RunningWorker>;
  listSchedules(opts?: { includeFinished?: boolean }): Promise<ScheduleEntry[]>;
  cancelSchedule(id: string): Promise<boolean>;
  close(): Promise<void>;
}

let defaultPresetPromise: Promise<Preset> | null = null;

/**
 * The bundled default preset, found by its path in the package (dist/presets/default/index.js or
 * presets/default/index.ts; own-files.ts): the SDK names no preset module in an import, so `nuvom` depends on no
 * built-in plugin, and an application that passes its own preset never loads this one.
 */
function bundledDefaultPreset(): Promise<Preset> {
  defaultPresetPromise ??= (import(ownModuleUrl('presets/default/index.ts')) as Promise<{ default: Preset }>).then((m) => m.default);
  return defaultPresetPromise;
}

export async function createClient(opts: ClientOptions = {}): Promise<Client> {
  // The kernel is imported here, not at the top: `import 'nuvom'` in a worker thread (a task module)
  // then loads only the task API, and a thread starts its first job without loading the kernel.
  // The kernel and the preset's list load together (neither waits for the other's files).
  const [{ bootKernel, loadConfig, presetEntries, resolvePreset, validatePlugins }, base] = await Promise.all([
    import('../kernel/index.ts'), opts.preset ?? bundledDefaultPreset(),
  ]);
  // Checked as a listed plugin is, before their names decide what the preset leaves out.
  const plugins = validatePlugins(opts.plugins, 'createClient()');
  const loaded = await loadConfig({ cwd: opts.cwd, overrides: opts.config, env: opts.env });
  // A programmatic plugin named like a preset plugin replaces it: the preset's is not even imported.
  const own = new Set(plugins.map((p) => p.name));
  const replaced = presetEntries(base).map((e: PresetEntry) => e.name).filter((n) => own.has(n));
  const preset = await resolvePreset(base, { disable: [...(opts.disable ?? []), ...loaded.presetDisable, ...replaced] });
  // The kernel's configuration: every loaded plugin's settings resolved (and checked) before any registered.
  const kernel = await bootKernel({ config: loaded, preset, plugins, replacedPresetPlugins: replaced, logger: opts.logger });
  const { config } = kernel;
  // Resolved once: every delay() went through the container's lookup for the same singleton.
  let jobsService: JobsService | undefined;
  const jobs = (): JobsService => (jobsService ??= kernel.resolve('jobs'));
  const workers = new Set<RunningWorker>();
  /** Set by close(): the client is closed (or closing) from then on. */
  let closing: Promise<void> | null = null;

  const dispatch: TaskDispatch = {
    enqueue: (task: AnyTask, calls) => jobs().enqueueTask(task, calls),
    schedule: (task: AnyTask, trigger: Trigger, args: unknown[]): Promise<ScheduleHandle> =>
      kernel.resolve('scheduler').schedule({ name: task.name, options: task.options }, trigger, args),
  };
  const table = taskTable();
  const isDefault = table.dispatch === null;
  if (isDefault) table.dispatch = dispatch;
  (table.open ??= new Set()).add(dispatch);
  /** A closed client's calls reject (it would otherwise build its services again, and open new connections). */
  const closedError = () => new NuvomError('NUVOM_E_CLIENT_CLOSED', 'this nuvom client is closed (client.close() was called); create another with createClient()');
  const live = <T>(call: () => Promise<T>): Promise<T> => (closing ? Promise.reject(closedError()) : call());

  const client: Client = {
    config,
    kernel,
    getJob: (id) => live(() => jobs().getJob(id)),
    listJobs: (filter) => live(() => jobs().listJobs(filter)),
    retryJob: (id) => live(() => jobs().retryJob(id)),
    cancelJob: (id) => live(() => jobs().cancelJob(id)),
    result: <T>(id: string, o?: ResultOptions) => live(() => jobs().waitForResult(id, o) as Promise<ResultType<T>>),
    stats: (since) => live(() => jobs().stats(since)),
    async enqueue<N extends TaskName>(taskName: N, args: TaskArgsOf<N>, o: Omit<EnqueueOptions<unknown[]>, 'args'> = {}) {
      if (closing) throw closedError();
      const ref = kernel.resolve('registry').get(taskName);
      const [h] = await jobs().enqueue([{ taskName, taskOptions: ref?.options ?? {}, call: { ...o, args } }]);
      return h as JobHandle<TaskResultOf<N>>;
    },
    async startWorker(o) {
      if (closing) throw closedError();
      const w = await kernel.resolve('workerPool').start(o);
      workers.add(w);
      // A burst run that failed rejects `done`: its caller hears of it; this bookkeeping must not.
      const forget = () => workers.delete(w);
      void w.done.then(forget, forget);
      return w;
    },
    listSchedules: (o) => live(() => kernel.resolve('scheduler').list(o)),
    cancelSchedule: (id) => live(() => kernel.resolve('scheduler').cancel(id)),
    close() {
      // A second call waits for the first to finish (it resolved at once before, while workers still ran).
      closing ??= (async () => {
        jobsService?.close?.();
        await Promise.all([...workers].map((w) => w.stop()));
        // task().delay() goes on through the oldest client still open, or is refused when none is.
        table.open?.delete(dispatch);
        if (table.dispatch === dispatch) table.dispatch = table.open?.values().next().value ?? null;
        if (defaultClient && (await defaultClient.catch(() => null)) === client) defaultClient = null;
        await kernel.stop();
      })();
      return closing;
    },
  };
  return client;
}

let defaultClient: Promise<Client> | null = null;

/** The client that task().delay() uses when the application created none. */
export function getDefaultClient(): Promise<Client> {
  defaultClient ??= createClient();
  return defaultClient;
}

taskTable().defaultDispatch = async () => {
  const table = taskTable();
  if (table.dispatch) return table.dispatch;
  await getDefaultClient();
  return table.dispatch!;
};
