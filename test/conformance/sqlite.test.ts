/** The built-in SQLite backends pass the whole conformance kit, each case on a fresh file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { queueConformance, resultStoreConformance, scheduleStoreConformance, jobStoreConformance } from '../../sdk/testing/index.ts';
import { SqliteJobStore, SqliteQueue, SqliteResultStore, SqliteScheduleStore } from '../../builtin-plugins/sqlite/index.ts';
import type { Serializer } from '../../sdk/plugin.ts';

/** A tiny JSON serializer, enough for the kit's JSON-safe values. */
const json: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

/** A fresh database file in its own temp directory, removed by cleanup. */
function freshFile(): { file: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-sqlite-conf-'));
  return { file: path.join(dir, 'nuvom.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

describe('conformance: sqlite backends', () => {
  queueConformance('queue "sqlite"', async () => {
    const { file, cleanup } = freshFile();
    return { queue: new SqliteQueue({ path: file }), cleanup };
  });
  resultStoreConformance('resultStore "sqlite"', async () => {
    const { file, cleanup } = freshFile();
    return { store: new SqliteResultStore({ path: file, serializer: json }), cleanup };
  });
  scheduleStoreConformance('scheduleStore "sqlite"', async () => {
    const { file, cleanup } = freshFile();
    return { store: new SqliteScheduleStore({ path: file }), cleanup };
  });
  jobStoreConformance('jobStore "sqlite" (queue and results on one file)', async () => {
    const { file, cleanup } = freshFile();
    return { store: new SqliteJobStore(new SqliteQueue({ path: file }), new SqliteResultStore({ path: file, serializer: json })), serializer: json, cleanup };
  });
});
