import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ChangeNotifier, DEFAULT_POLL_MS, PROVEN_POLL_MS } from '../../builtin-plugins/sqlite/watch.ts';
import { waitFor } from '../helpers/tmp.ts';
import { tempDir } from './helpers.ts';

describe('sqlite change notifier', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('slows its safety-net poll once fs.watch has proven itself, leaves no probe file, and still wakes on a foreign commit', async () => {
    const db = new Database(tmp.file());
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x)');
    const notifier = new ChangeNotifier(db, tmp.file());
    let woken = 0;
    const off = notifier.subscribe(() => { woken++; });
    try {
      await waitFor(() => notifier.pollInterval === PROVEN_POLL_MS, { what: 'the watcher to be proven' });
      await waitFor(() => !readdirSync(tmp.dir).some((f) => f.includes('-watch-')), { what: 'the probe file to go' });
      const other = new Database(tmp.file());
      try {
        other.prepare('INSERT INTO t VALUES (1)').run();
        await waitFor(() => woken > 0, { timeoutMs: 2000, what: 'a wake-up after another connection committed' });
      } finally {
        other.close();
      }
    } finally {
      off();
      notifier.close();
      db.close();
    }
    expect(notifier.pollInterval).to.equal(null);
  });

  it('keeps the fast poll where there is no file to watch', () => {
    const db = new Database(':memory:');
    const notifier = new ChangeNotifier(db, ':memory:');
    const off = notifier.subscribe(() => {});
    try {
      expect(notifier.pollInterval).to.equal(DEFAULT_POLL_MS);
    } finally {
      off();
      notifier.close();
      db.close();
    }
  });
});
