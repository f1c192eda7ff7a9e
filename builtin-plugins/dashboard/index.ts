/**
 * `nuvom/plugins/dashboard`: the web dashboard. `dashboardHandler(client, { basePath })` mounts it in
 * an application's node:http (or Express/Fastify/Koa) server; the default export is the plugin that
 * adds `nuvom dashboard`. docs/dashboard.md describes the pages and the JSON API.
 * Must never: import backend code; everything goes through the client's services.
 */
export { dashboardHandler, type DashboardHandler, type DashboardOptions } from './handler.ts';
export { serveDashboard, type RunningDashboard } from './serve.ts';
export type { DashboardSource } from './source.ts';
export type { DashboardAuth } from './security.ts';
export { createDashboardPlugin } from './plugin.ts';
export { default } from './plugin.ts';
