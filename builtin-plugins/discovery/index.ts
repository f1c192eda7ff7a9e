/**
 * Discovery plugin (`nuvom/plugins/discovery`): provides `discovery` "oxc" (static task discovery and
 * the task manifest) and the `discover tasks` / `list tasks` commands. A third party can replace it by
 * providing `discovery`. The definition is plugin.ts (what the default preset loads); this module
 * adds the functions for direct use, and with them the parser.
 */
import { defaultTaskTypesPath, renderTaskTypes, writeTaskTypes } from './declarations.ts';
import { discoverTasks, isManifestStale, loadManifest, staleReason } from './discover.ts';
import { diffTasks } from './manifest.ts';
import { scanFile } from './scan.ts';
import { createFileFilter, walkSources } from './walk.ts';

export {
  createFileFilter, defaultTaskTypesPath, diffTasks, discoverTasks, isManifestStale, loadManifest, renderTaskTypes, scanFile, staleReason,
  walkSources, writeTaskTypes,
};
export type * from './types.ts';
export { default } from './plugin.ts';
