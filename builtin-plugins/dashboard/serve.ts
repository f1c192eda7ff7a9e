/**
 * A node:http server around dashboardHandler, as `nuvom dashboard` runs it: refuses a non-loopback
 * host without credentials before binding, reports a taken port as NUVOM_E_PORT_IN_USE.
 * Must never: bind before checkBind has passed.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NuvomError } from '../../sdk/plugin.ts';
import { dashboardHandler } from './handler.ts';
import { checkBind, isLoopback } from './security.ts';
import type { DashboardSettings } from './settings.ts';
import type { DashboardSource } from './source.ts';

export interface RunningDashboard { url: string; close(): Promise<void> }

export async function serveDashboard(src: DashboardSource, s: DashboardSettings, basePath = ''): Promise<RunningDashboard> {
  checkBind(s.host, s.auth);
  // On loopback without credentials, only loopback names reach it (DNS rebinding: docs/dashboard.md, Security).
  const loopbackHostsOnly = isLoopback(s.host) && !s.auth.token && !s.auth.basic;
  const handler = dashboardHandler(src, { basePath, auth: s.auth, readOnly: s.readOnly, loopbackHostsOnly });
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
      ? new NuvomError('NUVOM_E_PORT_IN_USE', `the dashboard cannot listen on ${s.host}:${s.port}: the port is in use; pass --port <another> (or 0 for any free port)`, { plugin: 'nuvom-dashboard' })
      : err));
    server.listen(s.port, s.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return {
    url: `http://${host}:${port}${basePath}/`,
    close: () => new Promise<void>((resolve) => { handler.close(); server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
