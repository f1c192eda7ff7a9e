/** The PostgreSQL backends pass the whole conformance kit against the real server, each case in its own schema. */
import { jobStoreConformance, queueConformance, resultStoreConformance, scheduleStoreConformance } from '../../sdk/testing/index.ts';
import { PgJobStore, PgQueue, PgResultStore, PgScheduleStore } from '../../builtin-plugins/postgres/index.ts';
import type { Serializer } from '../../sdk/plugin.ts';
import { dropSchema, requirePostgres, schemaName, settingsFor } from './helpers.ts';

const json: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

function fresh() {
  const schema = schemaName();
  return { settings: settingsFor(schema), cleanup: () => dropSchema(schema) };
}

describe('conformance: postgres backends', function () {
  this.timeout(30_000);
  requirePostgres();
  queueConformance('queue "postgres"', async () => {
    const { settings, cleanup } = fresh();
    return { queue: new PgQueue({ settings }), cleanup };
  });
  resultStoreConformance('resultStore "postgres"', async () => {
    const { settings, cleanup } = fresh();
    return { store: new PgResultStore({ settings, serializer: json }), cleanup };
  });
  scheduleStoreConformance('scheduleStore "postgres"', async () => {
    const { settings, cleanup } = fresh();
    return { store: new PgScheduleStore({ settings }), cleanup };
  });
  jobStoreConformance('jobStore "postgres" (one row per job)', async () => {
    const { settings, cleanup } = fresh();
    const queue = new PgQueue({ settings });
    const results = new PgResultStore({ settings, serializer: json });
    // The kit closes the job store only: its queue and results are closed here, as the container would.
    return { store: new PgJobStore(queue, results), cleanup: async () => { await queue.close(); await results.close(); await cleanup(); } };
  });
});
