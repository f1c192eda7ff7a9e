/**
 * nuvom-prometheus: Prometheus metrics of jobs, queue depth and worker threads, served at /metrics.
 * Opt-in from .nuvom_plugins.toml (`monitoring = ["nuvom/plugins/prometheus"]`). It sees jobs only
 * through the public observer hooks and reads storage only through the queue and resultStore
 * services: the proof that a third-party plugin can observe everything a built-in can.
 *
 * When it binds (docs/monitoring.md, "When the port is bound"): only in a process that runs a worker.
 * Under `nuvom runworker` it binds before the command runs, so a taken port stops the command before
 * any thread starts; `nuvom status` and the other commands never bind. In application code it binds
 * at the first worker start, or when `metrics.listen()` is called; `serve = "always"` binds in start().
 * Must never: use prom-client's global registry, or bind a port in a process that runs no worker
 * (unless told to with serve = "always").
 */
import type { Registry } from 'prom-client';
import { configVariables, definePlugin, NuvomError, isNuvomError, messageOf, type Logger, type NuvomPlugin } from '../../sdk/plugin.ts';
import { DEFAULT_RUN_BUCKETS, DEFAULT_WAIT_BUCKETS, NuvomMetrics } from './metrics.ts';
import { MetricsServer } from './server.ts';

export const PLUGIN_NAME = 'nuvom-prometheus';

/** The `metrics` service this plugin provides. */
export interface MetricsService {
  /** This kernel's own registry: add application metrics to it and they are served too. */
  readonly registry: Registry;
  /** Binds the HTTP server if it is not bound yet; resolves with the /metrics URL. Rejects with NUVOM_E_PORT_IN_USE. */
  listen(): Promise<string>;
  /** The /metrics URL once bound (with the real port when port = 0), else null. */
  url(): string | null;
  /** The exposition text, as GET /metrics serves it. */
  text(): Promise<string>;
}

declare module '../../sdk/plugin.ts' {
  interface Services {
    metrics: MetricsService;
  }
}

export interface PrometheusSettings {
  host: string;
  port: number;
  portSource: string;
  serve: 'worker' | 'always';
  collectTimeoutMs: number;
  defaultMetrics: boolean;
  /** Report nuvom_jobs and nuvom_oldest_pending_job_age_seconds (a read of every record's status on scrape). */
  recordGauges: boolean;
  runBuckets: number[];
  waitBuckets: number[];
}

const KNOWN = ['host', 'port', 'serve', 'collect_timeout_ms', 'default_metrics', 'record_gauges', 'run_buckets', 'wait_buckets'];
/** Commands that run a worker: the server binds before their action, so a taken port stops them first. */
const WORKER_COMMANDS = new Set(['runworker']);

/** Validates `[settings.nuvom-prometheus]` with NUVOM_PROMETHEUS_HOST/PORT over it; errors name the key and the fix. */
export function readSettings(raw: Readonly<Record<string, unknown>>, env: Record<string, string | undefined>): PrometheusSettings {
  const bad = (key: string, what: string): never => {
    throw new NuvomError('NUVOM_E_CONFIG', `${key} ${what}`, { plugin: PLUGIN_NAME });
  };
  const unknown = Object.keys(raw).filter((k) => !KNOWN.includes(k));
  if (unknown.length) bad(`[settings.${PLUGIN_NAME}]`, `has unknown key(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  const key = (k: string) => `[settings.${PLUGIN_NAME}] ${k}`;

  let host = raw.host ?? '127.0.0.1';
  if (env.NUVOM_PROMETHEUS_HOST) host = env.NUVOM_PROMETHEUS_HOST;
  if (typeof host !== 'string' || host.trim() === '') bad(env.NUVOM_PROMETHEUS_HOST ? 'NUVOM_PROMETHEUS_HOST' : key('host'), 'must be a host name or address, e.g. "127.0.0.1" or "0.0.0.0"');

  let port: unknown = raw.port ?? 9150;
  let portSource = raw.port === undefined ? 'default' : key('port');
  if (env.NUVOM_PROMETHEUS_PORT) { port = Number(env.NUVOM_PROMETHEUS_PORT); portSource = 'NUVOM_PROMETHEUS_PORT'; }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    bad(portSource === 'NUVOM_PROMETHEUS_PORT' ? `NUVOM_PROMETHEUS_PORT="${env.NUVOM_PROMETHEUS_PORT}"` : key('port'), 'must be a whole number from 0 to 65535 (0 takes any free port)');
  }

  const serve = raw.serve ?? 'worker';
  if (serve !== 'worker' && serve !== 'always') bad(key('serve'), `must be "worker" (bind when this process runs a worker) or "always" (bind at startup), got ${JSON.stringify(serve)}`);

  const collectTimeoutMs = raw.collect_timeout_ms ?? 2000;
  if (typeof collectTimeoutMs !== 'number' || !(collectTimeoutMs > 0)) bad(key('collect_timeout_ms'), 'must be a number of milliseconds > 0');

  const defaultMetrics = raw.default_metrics ?? true;
  if (typeof defaultMetrics !== 'boolean') bad(key('default_metrics'), 'must be true or false');

  let recordGauges: unknown = raw.record_gauges ?? true;
  const flag = env.NUVOM_PROMETHEUS_RECORD_GAUGES;
  if (flag !== undefined && flag !== '') {
    const v = flag.trim().toLowerCase();
    if (!['true', 'false', '1', '0'].includes(v)) bad(`NUVOM_PROMETHEUS_RECORD_GAUGES="${flag}"`, 'must be true or false (or 1 or 0)');
    recordGauges = v === 'true' || v === '1';
  }
  if (typeof recordGauges !== 'boolean') bad(key('record_gauges'), 'must be true or false');

  const buckets = (k: string, fallback: number[]): number[] => {
    const v = raw[k];
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.length === 0 || v.some((x, i) => typeof x !== 'number' || !(x > 0) || (i > 0 && x <= (v[i - 1] as number)))) {
      bad(key(k), 'must be a list of increasing numbers of seconds > 0, e.g. [0.1, 1, 10]');
    }
    return v as number[];
  };
  return {
    host: (host as string).trim(), port: port as number, portSource, serve: serve as 'worker' | 'always',
    collectTimeoutMs: collectTimeoutMs as number, defaultMetrics: defaultMetrics as boolean, recordGauges: recordGauges as boolean,
    runBuckets: buckets('run_buckets', DEFAULT_RUN_BUCKETS), waitBuckets: buckets('wait_buckets', DEFAULT_WAIT_BUCKETS),
  };
}

/**
 * A fresh plugin object: its state (registry, server) belongs to the one kernel that loads it, so two
 * clients in one process each get their own. The catalogue calls this for every kernel.
 */
export function createPrometheusPlugin(): NuvomPlugin {
  let metrics: NuvomMetrics | null = null;
  let server: MetricsServer | null = null;
  let settings: PrometheusSettings | null = null;
  let logger: Logger | null = null;
  let listening: Promise<string> | null = null;

  const notStarted = () => new NuvomError('NUVOM_E_PLUGIN_START', 'the metrics service is used while the plugin is not started (before start() or after stop())', { plugin: PLUGIN_NAME });
  const listen = (): Promise<string> => {
    if (!server) return Promise.reject(notStarted());
    const s = server;
    listening ??= s.listen().then((url) => {
      logger?.info(`serving Prometheus metrics at ${url}`, { url });
      return url;
    }, (err: unknown) => {
      listening = null;
      throw err;
    });
    return listening;
  };

  return definePlugin({
    name: PLUGIN_NAME,
    apiVersion: 1,
    description: 'Prometheus metrics of jobs, queue depth and worker threads at /metrics (prom-client)',
    provides: ['monitoring', 'metrics:prometheus'],
    register(ctx) {
      ctx.provide('metrics', 'prometheus', () => {
        if (!metrics) throw notStarted();
        const m = metrics;
        return { registry: m.registry, listen, url: () => server?.url() ?? null, text: () => m.text() };
      });
      // The one place a plugin can act before a CLI command runs: bind before `runworker` starts threads.
      ctx.hooks.cli.tap(PLUGIN_NAME, ({ program }) => {
        program.hook('preAction', async (_root, action) => {
          if (settings?.serve === 'worker' && WORKER_COMMANDS.has(action.name())) await listen();
        });
      });
    },
    async start(raw, ctx) {
      settings = readSettings(raw, configVariables(ctx.config));
      logger = ctx.logger;
      const m = new NuvomMetrics({
        queue: () => ctx.resolve('queue'), resultStore: () => ctx.resolve('resultStore'), logger: ctx.logger,
        collectTimeoutMs: settings.collectTimeoutMs, runBuckets: settings.runBuckets, waitBuckets: settings.waitBuckets,
        defaultMetrics: settings.defaultMetrics, recordGauges: settings.recordGauges,
      });
      metrics = m;
      m.tap(ctx.hooks, PLUGIN_NAME);
      server = new MetricsServer({
        host: settings.host, port: settings.port, portSource: settings.portSource, plugin: PLUGIN_NAME,
        contentType: m.registry.contentType, text: () => m.text(), logger: ctx.logger,
      });
      if (settings.serve === 'always') {
        await listen();
        return;
      }
      // In application code (createClient().startWorker()): bind when the first worker starts. Under
      // `nuvom runworker` the preAction above has bound already and this is a no-op.
      ctx.hooks.workerStarted.tap(PLUGIN_NAME, () => {
        listen().catch((err: unknown) => {
          ctx.logger.error(`${messageOf(err)}. This worker runs without /metrics; to fail instead, await metrics.listen() before startWorker() or set serve = "always"`, {
            code: isNuvomError(err) ? err.code : 'NUVOM_E_CONFIG',
          });
        });
      });
    },
    async stop() {
      const s = server;
      server = null;
      listening = null;
      await s?.close();
    },
  });
}

export default createPrometheusPlugin();
