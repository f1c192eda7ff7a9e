/** The built-in file backends pass the whole conformance kit, each case in a fresh directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { queueConformance, resultStoreConformance } from '../../sdk/testing/index.ts';
import { FileQueue, FileResultStore } from '../../builtin-plugins/file/index.ts';
import { createLogger, type Serializer } from '../../sdk/plugin.ts';

/** A tiny JSON serializer, enough for the kit's JSON-safe values. */
const json: Serializer = {
  name: 'json',
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

const logger = createLogger({ level: 'silent' });

function freshDir(): { dir: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'nuvom-file-conf-'));
  return { dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

describe('conformance: file backends', () => {
  queueConformance('queue "file"', async () => {
    const { dir, cleanup } = freshDir();
    return { queue: new FileQueue(dir, logger), cleanup };
  });
  resultStoreConformance('resultStore "file"', async () => {
    const { dir, cleanup } = freshDir();
    return { store: new FileResultStore(dir, json, logger), cleanup };
  });
  // The file plugin provides no jobStore: the dispatcher and the pool pair its queue and store
  // (pairJobStore), as they do for mixed backends.
});
