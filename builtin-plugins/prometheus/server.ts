/**
 * The HTTP endpoint of the nuvom-prometheus plugin (node:http): GET /metrics serves the exposition
 * text, GET / a pointer to it, anything else 404. A bind failure becomes a NuvomError that names
 * host:port and how to choose another port.
 * Must never: keep the process alive on its own (the socket is unref'd), or log each request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NuvomError, messageOf, type Logger } from '../../sdk/plugin.ts';

export interface ServerOptions {
  host: string;
  port: number;
  /** Where the port came from, for the error message ("[settings.nuvom-prometheus] port", "NUVOM_PROMETHEUS_PORT"). */
  portSource: string;
  plugin: string;
  contentType: string;
  text(): Promise<string>;
  logger: Logger;
}

export class MetricsServer {
  private server: Server | null = null;
  private address: AddressInfo | null = null;

  constructor(private readonly o: ServerOptions) {}

  /** http://host:port/metrics once bound, else null. */
  url(): string | null {
    if (!this.address) return null;
    const host = this.address.family === 'IPv6' || this.address.address.includes(':') ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}/metrics`;
  }

  async listen(): Promise<string> {
    if (this.server) return this.url()!;
    const server = createServer((req, res) => void this.handle(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: this.o.host, port: this.o.port }, () => { server.off('error', reject); resolve(); });
      });
    } catch (err) {
      throw this.bindError(err as NodeJS.ErrnoException);
    }
    server.on('error', (err) => this.o.logger.error(`metrics server error: ${messageOf(err)}`));
    server.unref();
    this.server = server;
    this.address = server.address() as AddressInfo;
    return this.url()!;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.address = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive connections (Prometheus, fetch) would hold close() open until they time out.
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served\n');
      return;
    }
    if (path === '/metrics') {
      let body: string;
      try {
        body = await this.o.text();
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`could not collect metrics: ${messageOf(err)}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': this.o.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const status = path === '/' ? 200 : 404;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(status === 200 ? 'nuvom Prometheus exporter: metrics at /metrics\n' : `not found: ${path}; metrics are at /metrics\n`);
  }

  private bindError(err: NodeJS.ErrnoException): NuvomError {
    const { host, port, portSource, plugin } = this.o;
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const fix = `set another port with ${portSource === 'NUVOM_PROMETHEUS_PORT' ? 'NUVOM_PROMETHEUS_PORT=<port>' : `[settings.${plugin}] port = <port> in .nuvom_plugins.toml (or NUVOM_PROMETHEUS_PORT=<port>)`}; port = 0 takes any free port`;
    const details = { host, port, errno: err.code };
    if (err.code === 'EADDRINUSE') {
      return new NuvomError('NUVOM_E_PORT_IN_USE', `cannot serve metrics on ${where}: port ${port} is already in use (another nuvom worker on this host, or another program, holds it); ${fix}`, { plugin, details, cause: err });
    }
    if (err.code === 'EACCES') {
      return new NuvomError('NUVOM_E_CONFIG', `cannot serve metrics on ${where}: permission denied (ports below 1024 need privileges); ${fix}`, { plugin, details, cause: err });
    }
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
      return new NuvomError('NUVOM_E_CONFIG', `cannot serve metrics on ${where}: host "${host}" is not an address of this machine; set [settings.${plugin}] host (or NUVOM_PROMETHEUS_HOST), e.g. "127.0.0.1" or "0.0.0.0"`, { plugin, details, cause: err });
    }
    return new NuvomError('NUVOM_E_CONFIG', `cannot serve metrics on ${where}: ${messageOf(err)}`, { plugin, details, cause: err });
  }
}
