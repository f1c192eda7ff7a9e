/**
 * The built-in plugins, in the order the host applies them (dependencies still order them), and the
 * catalogue of optional first-party plugins that .nuvom_plugins.toml can name as "nuvom/plugins/<x>".
 * Each is a plain plugin object, registered through the same host as a third-party plugin.
 */
import type { Catalogue, NuvomPlugin } from '../sdk/plugin.ts';
import serializers from './serializers/index.ts';
import registry from './registry/index.ts';
import jobs from './jobs/index.ts';
import memory from './memory/index.ts';
import sqlite from './sqlite/index.ts';
import file from './file/index.ts';
import postgres from './postgres/index.ts';
import workerPool from './worker-pool/index.ts';
import cliCore from './cli-core/index.ts';
import discovery from './discovery/index.ts';
import doctor from './doctor/index.ts';
import scheduler from './scheduler/index.ts';
import { pluginTools } from './plugin-tools/index.ts';
import cliOps from './cli-ops/index.ts';
import dashboard from './dashboard/plugin.ts';
import workers from './workers/index.ts';

export const builtinPlugins: NuvomPlugin[] = [serializers, registry, jobs, memory, sqlite, file, postgres, workerPool, cliCore, discovery, scheduler, cliOps];
builtinPlugins.push(doctor, dashboard, workers);

export const catalogue: Catalogue = {
  // Factories, not shared objects: each kernel gets its own registry, server or file handle.
  'nuvom/plugins/prometheus': () => import('./prometheus/index.ts').then((m) => m.createPrometheusPlugin()),
  'nuvom/plugins/event-log': () => import('./event-log/index.ts').then((m) => m.createEventLogPlugin()),
};

// Last, so `nuvom plugin test` can build an isolated kernel from the list above.
builtinPlugins.push(pluginTools(() => builtinPlugins.filter((p) => p.name !== 'nuvom-plugin-tools'), catalogue));
