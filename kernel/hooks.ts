/**
 * The hook bus: a frozen, typed table of tapable hooks. Pipeline hooks rethrow (a tap that throws
 * stops the pipeline and the caller sees a NuvomError naming the plugin and hook). Observer hooks
 * isolate a failing tap: it is reported once through the logger, counted, and the other taps and the
 * job carry on. Plugins may publish hooks of their own with `publish`.
 * Must never: know which plugin provides what, or await observers on a hot path.
 */
import { AsyncParallelHook, AsyncSeriesWaterfallHook, SyncHook } from 'tapable';
import type { Command } from 'commander';
import type { ClaimedJob, JobError, Logger, QueuedJob } from './contracts.ts';
import { NuvomError, isNuvomError, messageOf } from './errors.ts';


/** Tap stages: lower runs earlier. */
export const STAGES = Object.freeze({ EARLY: -100, NORMAL: 0, LATE: 100 });

/** What every job event carries. Times are epoch ms. */
export interface JobEvent {
  jobId: string;
  taskName: string;
  attempt: number;
  at: number;
  workerId?: string;
  /** Where in the worker the job ran, when the pool knows (the built-in pool: its thread's id). */
  threadId?: number;
  /** Time from becoming claimable (runAt) to start, on `jobStarted`. */
  waitMs?: number;
  /** Run time, on outcome events. */
  runMs?: number;
  error?: JobError;
  /** When a retry will run, on `jobRetryScheduled`. */
  nextRunAt?: number;
  /** For `jobCancelled`: where the job was. */
  phase?: 'queued' | 'running';
}

/**
 * A worker's storage call failed (`storageError`), or a write worked again after failures
 * (`storageRecovered`, without `message`). `code` is the underlying one when known (the database's
 * or the system's, such as ENOSPC), else the NuvomError's.
 */
export interface StorageEvent {
  workerId: string;
  at: number;
  /** What the worker was doing: `claim`, `record` (outcomes), `renew` (leases). */
  op: 'claim' | 'record' | 'renew';
  code?: string;
  message?: string;
}

export interface CliContext {
  program: Command;
}

export type RetryDecision = { retry: boolean; delayMs: number };

type Tap = { name: string; fn: (...args: unknown[]) => unknown; type: string };

function makeHooks() {
  return {
    // pipeline hooks
    /** Each tap receives the job about to be enqueued and returns it (possibly changed); throw to refuse. */
    enqueue: new AsyncSeriesWaterfallHook<[QueuedJob]>(['job']),
    /** Decide whether a failed attempt is retried; taps may change the decision. */
    retryDecision: new AsyncSeriesWaterfallHook<[RetryDecision, ClaimedJob, JobError]>(['decision', 'job', 'error']),
    /** CLI plugins add their commands to the program. */
    cli: new SyncHook<[CliContext]>(['ctx']),
    // observer hooks
    jobEnqueued: new AsyncParallelHook<[JobEvent]>(['event']),
    jobClaimed: new AsyncParallelHook<[JobEvent]>(['event']),
    jobStarted: new AsyncParallelHook<[JobEvent]>(['event']),
    jobSucceeded: new AsyncParallelHook<[JobEvent]>(['event']),
    jobFailed: new AsyncParallelHook<[JobEvent]>(['event']),
    jobRetryScheduled: new AsyncParallelHook<[JobEvent]>(['event']),
    jobTimedOut: new AsyncParallelHook<[JobEvent]>(['event']),
    jobCancelled: new AsyncParallelHook<[JobEvent]>(['event']),
    jobRedelivered: new AsyncParallelHook<[JobEvent]>(['event']),
    storageError: new AsyncParallelHook<[StorageEvent]>(['event']),
    storageRecovered: new AsyncParallelHook<[StorageEvent]>(['event']),
  };
}

/**
 * The payloads of observer hooks that plugins declare (`hooks: { name: 'observer' }` in the plugin
 * definition). A plugin types its hooks by augmenting this interface:
 * `declare module 'nuvom/plugin' { interface ObserverEvents { acmeReported: AcmeEvent } }`.
 */
export interface ObserverEvents {} // eslint-disable-line @typescript-eslint/no-empty-interface
/** The values of pipeline hooks that plugins declare (`hooks: { name: 'pipeline' }`), augmented likewise. */
export interface PipelineValues {} // eslint-disable-line @typescript-eslint/no-empty-interface

/** What a declared hook is: observers isolate a tap that throws, pipelines pass a value through their taps. */
export type HookKind = 'observer' | 'pipeline';

export type DeclaredHooks = { readonly [K in keyof ObserverEvents]: AsyncParallelHook<[ObserverEvents[K]]> }
  & { readonly [K in keyof PipelineValues]: AsyncSeriesWaterfallHook<[PipelineValues[K]]> };
type BuiltinHooks = ReturnType<typeof makeHooks>;
export type KernelHooks = BuiltinHooks & DeclaredHooks;
export type PipelineHookName = 'enqueue' | 'retryDecision' | 'cli' | (keyof PipelineValues & string);
export type ObserverHookName = Exclude<keyof BuiltinHooks, 'enqueue' | 'retryDecision' | 'cli'> | (keyof ObserverEvents & string);
const PIPELINE: ReadonlySet<string> = new Set<PipelineHookName>(['enqueue', 'retryDecision', 'cli']);

interface AnyHook {
  intercept(i: { register?: (tap: Tap) => Tap }): void;
  isUsed(): boolean;
  promise?(...args: unknown[]): Promise<unknown>;
  call?(...args: unknown[]): unknown;
}

/** Property names a hook table never answers with an idle hook (promise checks, JSON, inspection). */
const NOT_HOOKS: ReadonlySet<string> = new Set(['then', 'toJSON', 'constructor', 'inspect']);

export class HookBus {
  /**
   * The kernel's hooks and those the loaded plugins declared. A hook that no loaded plugin declares
   * reads as an idle hook whose taps never fire (so a metrics plugin taps the worker pool's events
   * whether or not the pool is loaded); TypeScript still refuses a name nobody declared.
   */
  readonly hooks: Readonly<KernelHooks>;
  private readonly table: Record<string, AnyHook>;
  private readonly declared = new Map<string, { kind: HookKind; owner: string }>();
  private readonly idle = new Map<string, AnyHook>();
  private readonly customHooks = new Map<string, { hook: AnyHook; kind: 'pipeline' | 'observer'; owner: string }>();
  private readonly reported = new Map<string, number>();

  /**
   * `declared`: the hooks plugins declare in their definitions (`hooks`), created here, before any
   * plugin registers, so a plugin that registers earlier can tap a later one's hooks.
   */
  constructor(private readonly logger: Logger, declared: ReadonlyArray<{ owner: string; name: string; kind: HookKind }> = []) {
    const hooks = makeHooks();
    for (const [name, hook] of Object.entries(hooks)) {
      this.wrap(name, hook as unknown as AnyHook, PIPELINE.has(name) ? 'pipeline' : 'observer');
    }
    this.table = hooks as unknown as Record<string, AnyHook>;
    for (const d of declared) this.declare(d.owner, d.name, d.kind);
    Object.freeze(this.table);
    this.hooks = new Proxy(this.table, {
      get: (target, prop) => {
        if (typeof prop !== 'string' || Object.hasOwn(target, prop) || NOT_HOOKS.has(prop) || prop in Object.prototype) return Reflect.get(target, prop);
        let hook = this.idle.get(prop);
        if (!hook) this.idle.set(prop, (hook = new AsyncParallelHook<[unknown]>(['event']) as unknown as AnyHook));
        return hook;
      },
    }) as unknown as Readonly<KernelHooks>;
  }

  /** Creates a hook a plugin declared; its name shares one namespace with the kernel's hooks. */
  private declare(owner: string, name: string, kind: HookKind): void {
    if (!/^[a-z][A-Za-z0-9]*$/.test(name)) {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `hook name "${name}" must be camelCase letters and digits, starting with a lower-case letter`, { plugin: owner });
    }
    if (kind !== 'observer' && kind !== 'pipeline') {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `hook "${name}" is declared as ${JSON.stringify(kind)}; declare it as "observer" or "pipeline"`, { plugin: owner });
    }
    const other = this.declared.get(name)?.owner ?? (Object.hasOwn(this.table, name) || this.customHooks.has(name) ? 'the kernel' : undefined);
    if (other) {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `hook "${name}" is already declared by ${other === 'the kernel' ? other : `plugin "${other}"`}; pick another name (prefix it with your plugin's name)`, { plugin: owner });
    }
    const hook = (kind === 'observer' ? new AsyncParallelHook<[unknown]>(['event']) : new AsyncSeriesWaterfallHook<[unknown]>(['value'])) as unknown as AnyHook;
    this.wrap(name, hook, kind);
    this.table[name] = hook;
    this.declared.set(name, { kind, owner });
  }

  /** The hooks plugins declared, with their kind and owner (`nuvom plugin status`, docs). */
  declaredHooks(): Array<{ name: string; kind: HookKind; owner: string }> {
    return [...this.declared].map(([name, d]) => ({ name, ...d }));
  }

  /** Publishes a plugin's own hook so other plugins can tap it through `custom(name)`. */
  publish<H>(owner: string, name: string, hook: H, kind: 'pipeline' | 'observer'): H {
    if (Object.hasOwn(this.table, name) || this.customHooks.has(name)) {
      throw new NuvomError('NUVOM_E_PLUGIN_INVALID', `hook "${name}" is already declared; pick another name (prefix it with your plugin's name)`, { plugin: owner });
    }
    this.wrap(name, hook as unknown as AnyHook, kind);
    this.customHooks.set(name, { hook: hook as unknown as AnyHook, kind, owner });
    return hook;
  }

  /** A hook published by a plugin. */
  custom<H>(name: string): H {
    const entry = this.customHooks.get(name);
    if (!entry) {
      const known = [...this.customHooks.keys()];
      throw new NuvomError('NUVOM_E_HOOK_UNKNOWN', `no plugin published a hook named "${name}"${known.length ? `; published: ${known.join(', ')}` : ''}`);
    }
    return entry.hook as unknown as H;
  }

  /** Fires an observer hook without awaiting it; returns at once when nobody listens. */
  emit<K extends ObserverHookName>(name: K, event: Parameters<KernelHooks[K]['promise']>[0]): void {
    const hook = this.hooks[name] as unknown as AnyHook;
    if (!hook.isUsed()) return;
    void hook.promise!(event);
  }

  /** How many times each plugin's observer taps threw, keyed "plugin/hook". */
  failures(): Record<string, number> {
    return Object.fromEntries(this.reported);
  }

  private wrap(hookName: string, hook: AnyHook, kind: 'pipeline' | 'observer'): void {
    hook.intercept({
      register: (tap: Tap) => {
        const original = tap.fn;
        const plugin = tap.name;
        if (kind === 'pipeline') {
          const rethrow = (err: unknown): never => {
            if (isNuvomError(err) && err.plugin) throw err;
            throw new NuvomError(isNuvomError(err) ? err.code : 'NUVOM_E_HOOK', messageOf(err), { plugin, hook: hookName, cause: err });
          };
          if (tap.type === 'promise') {
            tap.fn = (...args: unknown[]) => {
              try {
                return (original(...args) as Promise<unknown>).then(undefined, rethrow);
              } catch (err) {
                return rethrow(err);
              }
            };
          } else if (tap.type === 'sync') {
            tap.fn = (...args: unknown[]) => {
              try { return original(...args); } catch (err) { return rethrow(err); }
            };
          }
          return tap;
        }
        // observer: never let a tap's failure reach the caller or the other taps
        const report = (err: unknown) => this.report(plugin, hookName, err);
        if (tap.type === 'async') {
          tap.fn = (...args: unknown[]) => {
            const cb = args.pop() as (err?: unknown) => void;
            try {
              original(...args, (err?: unknown) => { if (err) report(err); cb(); });
            } catch (err) { report(err); cb(); }
          };
        } else {
          tap.fn = (...args: unknown[]) => {
            try {
              const out = original(...args);
              if (out && typeof (out as Promise<unknown>).then === 'function') {
                return (out as Promise<unknown>).then(() => undefined, report);
              }
              return tap.type === 'promise' ? Promise.resolve() : undefined;
            } catch (err) {
              report(err);
              return tap.type === 'promise' ? Promise.resolve() : undefined;
            }
          };
        }
        return tap;
      },
    });
  }

  private report(plugin: string, hook: string, err: unknown): void {
    const key = `${plugin}/${hook}`;
    const n = (this.reported.get(key) ?? 0) + 1;
    this.reported.set(key, n);
    if (n === 1) {
      this.logger.error(`[plugin "${plugin}", hook "${hook}"] observer tap threw: ${messageOf(err)} (further failures of this tap are counted, not logged; jobs keep running)`, {
        code: 'NUVOM_E_HOOK', plugin, hook,
      });
    }
  }
}

/**
 * Removes the taps named `name` from a hook (tapable has no public way to); returns how many. The
 * hook's compiled call is reset, so the next call runs without them.
 */
export function untap(hook: unknown, name: string): number {
  const h = hook as { taps: Array<{ name: string }>; _resetCompilation?: () => void };
  const before = h.taps.length;
  for (let i = h.taps.length - 1; i >= 0; i--) if (h.taps[i].name === name) h.taps.splice(i, 1);
  h._resetCompilation?.();
  return before - h.taps.length;
}

/**
 * The hook table as a plugin sees it through its context: every tap it makes carries the plugin's
 * name (a name or options it passes are kept for the stage, the name is replaced), so an error or a
 * failure count always names the plugin that tapped.
 */
export function hooksFor<H extends object>(hooks: H, plugin: string): H {
  const wrapHook = (hook: Record<string, unknown>) => new Proxy(hook, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if ((prop === 'tap' || prop === 'tapAsync' || prop === 'tapPromise') && typeof v === 'function') {
        return (opts: string | { name: string }, fn: unknown) => (v as (o: unknown, f: unknown) => unknown).call(target, typeof opts === 'object' && opts !== null ? { ...opts, name: plugin } : plugin, fn);
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  // One wrapper per hook, made on first use: the table also answers for idle hooks (see HookBus.hooks).
  // The proxy's own target is empty (a frozen target would forbid answering with wrappers).
  const wrapped = new Map<string, unknown>();
  const get = (prop: string | symbol): unknown => {
    const v = Reflect.get(hooks, prop);
    if (typeof prop !== 'string' || typeof v !== 'object' || v === null) return v;
    let w = wrapped.get(prop);
    if (!w) wrapped.set(prop, (w = wrapHook(v as Record<string, unknown>)));
    return w;
  };
  return new Proxy({} as H, {
    get: (_t, prop) => get(prop),
    has: (_t, prop) => Reflect.has(hooks, prop),
    ownKeys: () => Reflect.ownKeys(hooks),
    getOwnPropertyDescriptor: (_t, prop) => (Object.hasOwn(hooks, prop) ? { value: get(prop), enumerable: true, configurable: true, writable: false } : undefined),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}
