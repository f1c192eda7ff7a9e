/** A client on a temp project for tests: memory backends unless told otherwise. */
import { createClient, type Client } from '../../sdk/index.ts';
import type { NuvomPlugin } from '../../sdk/plugin.ts';
import { memoryLogger, tempProject } from './tmp.ts';

export async function testClient(opts: { config?: Record<string, unknown>; plugins?: NuvomPlugin[]; cwd?: string } = {}): Promise<Client & { logLines: string[] }> {
  const { logger, lines } = memoryLogger();
  const client = await createClient({
    cwd: opts.cwd ?? tempProject(),
    env: {},
    logger,
    plugins: opts.plugins,
    config: { queueBackend: 'memory', resultBackend: 'memory', schedulerBackend: 'memory', visibilityTimeoutSecs: 5, ...opts.config },
  });
  return Object.assign(client, { logLines: lines });
}
