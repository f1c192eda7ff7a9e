/** A client on a temp project for tests: memory backends unless told otherwise. */
import { createClient, type Client, type JobRecord } from '../../sdk/index.ts';
import type { NuvomPlugin } from '../../sdk/plugin.ts';
import { memoryLogger, tempProject, waitFor } from './tmp.ts';

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

/** The job's record once it is final (SUCCESS, FAILED or CANCELLED), polled with a deadline. */
export async function settledJob(client: Client, id: string, timeoutMs = 30_000): Promise<JobRecord> {
  let rec: JobRecord | null = null;
  await waitFor(async () => {
    rec = await client.getJob(id);
    return rec !== null && ['SUCCESS', 'FAILED', 'CANCELLED'].includes(rec.status);
  }, { timeoutMs, what: `job ${id} to settle` });
  return rec!;
}
