import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { processAlive } from '../../sdk/plugin.ts';
import { waitFor } from '../helpers/tmp.ts';

describe('processAlive (doctor\'s dead workers, the file backend\'s stale locks)', () => {
  it('counts a zombie (ended, not yet reaped by its parent) as gone, though signal 0 still reaches it', async function () {
    if (process.platform !== 'linux') this.skip();
    // sh starts a short child, then becomes `sleep 5`, which never reaps it: the child stays a zombie.
    const sh = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [chunk] = await once(sh.stdout!, 'data') as [Buffer];
      const pid = Number(chunk.toString().trim());
      await waitFor(() => readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '), { what: `process ${pid} to be a zombie` });
      expect(() => process.kill(pid, 0)).to.not.throw();
      expect(processAlive(pid)).to.equal(false);
      expect(processAlive(process.pid)).to.equal(true);
      expect(processAlive(2 ** 22 + 12345)).to.equal(false); // above pid_max: no such process
    } finally {
      sh.kill('SIGKILL');
    }
  });
});
