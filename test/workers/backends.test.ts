import { expect } from 'chai';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { HeartbeatStore, ResultStore, WorkerHeartbeat } from '../../sdk/plugin.ts';
import { MemoryResultStore } from '../../builtin-plugins/memory/index.ts';
import { SqliteResultStore } from '../../builtin-plugins/sqlite/index.ts';
import { FileResultStore } from '../../builtin-plugins/file/index.ts';
import { JsonSerializer } from '../../builtin-plugins/serializers/json.ts';
import { hasHeartbeats, listWorkers } from '../../builtin-plugins/workers/index.ts';
import { cleanupTempProjects, memoryLogger, tempProject } from '../helpers/tmp.ts';

type Store = ResultStore & HeartbeatStore;

const beat = (workerId: string, over: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat => ({
  workerId, host: 'box', pid: 4242, threads: 2, busyThreads: 1, jobsPerSec: 3.5, startedAt: 1_000, lastBeatAt: 2_000, periodMs: 5_000, ...over,
});

interface Backend {
  name: string;
  /** A fresh store, and a second one over the same storage (another process's view), when it has one. */
  open(): { store: Store; other?: () => Store };
}

const backends: Backend[] = [
  { name: 'memory', open: () => ({ store: new MemoryResultStore() }) },
  {
    name: 'sqlite',
    open: () => {
      const file = path.join(tempProject(), 'results.db');
      const mk = () => new SqliteResultStore({ path: file, serializer: new JsonSerializer() });
      return { store: mk(), other: mk };
    },
  },
  {
    name: 'file',
    open: () => {
      const dir = path.join(tempProject(), 'results');
      const mk = () => new FileResultStore(dir, new JsonSerializer(), memoryLogger().logger);
      return { store: mk(), other: mk };
    },
  },
];

for (const b of backends) {
  describe(`worker heartbeats: the ${b.name} result store`, () => {
    let store: Store;
    let other: (() => Store) | undefined;
    const opened: Store[] = [];
    beforeEach(() => {
      ({ store, other } = b.open());
      opened.push(store);
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });
    after(() => cleanupTempProjects());

    it('implements the optional HeartbeatStore contract', () => {
      expect(hasHeartbeats(store)).to.equal(true);
    });

    it('lists nothing before any worker beats', async () => {
      expect(await store.listHeartbeats()).to.deep.equal([]);
    });

    it('keeps one row per worker: a later beat replaces the earlier one', async () => {
      await store.putHeartbeat(beat('w1'));
      await store.putHeartbeat(beat('w2', { startedAt: 1_500 }));
      await store.putHeartbeat(beat('w1', { busyThreads: 2, jobsPerSec: 7, lastBeatAt: 9_000 }));
      expect(await store.listHeartbeats()).to.deep.equal([beat('w1', { busyThreads: 2, jobsPerSec: 7, lastBeatAt: 9_000 }), beat('w2', { startedAt: 1_500 })]);
    });

    it('removes a worker that stopped, and removing an absent one is a no-op', async () => {
      await store.putHeartbeat(beat('host:1:abc'));
      await store.removeHeartbeat('host:1:abc');
      await store.removeHeartbeat('never-there');
      expect(await store.listHeartbeats()).to.deep.equal([]);
    });

    if (b.name !== 'memory') {
      it('shows one process\'s beats to another store opened on the same storage', async () => {
        const second = other!();
        opened.push(second);
        await store.putHeartbeat(beat('host:7:def'));
        expect((await second.listHeartbeats()).map((x) => x.workerId)).to.deep.equal(['host:7:def']);
        await second.removeHeartbeat('host:7:def');
        expect(await store.listHeartbeats()).to.deep.equal([]);
      });
    }
  });
}

describe('worker heartbeats: live and stale', () => {
  it('marks a worker stale after 3 of its periods without a beat, live ones first', async () => {
    const store = new MemoryResultStore();
    await store.putHeartbeat(beat('old', { startedAt: 1, lastBeatAt: 10_000, periodMs: 1_000 }));
    await store.putHeartbeat(beat('new', { startedAt: 2, lastBeatAt: 12_000, periodMs: 1_000 }));
    const views = await listWorkers(store, 13_500);
    expect(views.map((v) => [v.workerId, v.state])).to.deep.equal([['new', 'live'], ['old', 'stale']]);
    expect(views[0]).to.include({ host: 'box', pid: 4242, threads: 2, busyThreads: 1, jobsPerSec: 3.5, lastBeatAt: new Date(12_000).toISOString() });
  });
});

describe('worker heartbeats: SQLite storage', () => {
  after(() => cleanupTempProjects());
  it('writes its own table in the WAL-mode results file without changing the schema version', async () => {
    const file = path.join(tempProject(), 'results.db');
    const store = new SqliteResultStore({ path: file, serializer: new JsonSerializer() });
    const raw = new Database(file, { readonly: true });
    try {
      const version = raw.pragma('user_version', { simple: true });
      await store.putHeartbeat(beat('w'));
      expect(raw.pragma('journal_mode', { simple: true })).to.equal('wal');
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'nuvom_worker_heartbeats'").all()).to.have.length(1);
      expect(raw.pragma('user_version', { simple: true })).to.equal(version);
    } finally {
      raw.close();
      await store.close();
    }
  });
});
