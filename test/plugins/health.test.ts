/** The health contract (issue 16): `nuvom doctor` reports what a third-party backend's health() finds. */
import { expect } from 'chai';
import { cleanupTempProjects, nuvom, project } from '../cli/helpers.ts';

const QUEUE = `
import { definePlugin } from 'nuvom/plugin';
import { MemoryQueue } from 'nuvom/testing';

class AcmeQueue extends MemoryQueue {
  async health({ fix }) {
    const level = process.env.ACME_HEALTH ?? 'warn';
    return [
      { check: 'acme-queue-connection', level: 'ok', detail: 'connected to acme at 127.0.0.1' },
      { check: 'acme-queue-leases', level, detail: '2 job(s) hold an expired lease', fix: fix ? 'released' : 'run nuvom doctor --fix', data: { expired: 2, fixed: fix } },
    ];
  }
}

export default definePlugin({
  name: 'acme-queue',
  apiVersion: 1,
  provides: ['queue:acme'],
  register(ctx) { ctx.provide('queue', 'acme', () => new AcmeQueue(), (q) => q.close()); },
});
`;

describe('the health contract', function () {
  this.timeout(60_000);
  after(cleanupTempProjects);

  const acme = () => {
    const p = project({ 'plugins/acme-queue.mjs': QUEUE, '.nuvom_plugins.toml': '[plugins]\nqueue_backend = ["./plugins/acme-queue.mjs"]\n' });
    p.env.NUVOM_QUEUE_BACKEND = 'acme';
    return p;
  };

  it('nuvom doctor prints the findings of a third-party queue that implements health()', async () => {
    const p = acme();
    const r = await nuvom(p, ['doctor']);
    expect(r.stdout).to.match(/^ok\s+acme-queue-connection: connected to acme at 127\.0\.0\.1$/m);
    expect(r.stdout).to.match(/^warn\s+acme-queue-leases: 2 job\(s\) hold an expired lease; fix: run nuvom doctor --fix$/m);
    const j = JSON.parse((await nuvom(p, ['doctor', '--json', '--fix'])).stdout) as { checks: Array<{ check: string; data?: Record<string, unknown> }> };
    expect(j.checks.find((c) => c.check === 'acme-queue-leases')!.data).to.deep.equal({ expired: 2, fixed: true, backend: 'queue:acme' });
  });

  it('exits 1 when the backend reports a failure', async () => {
    const p = acme();
    const r = await nuvom(p, ['doctor'], { ACME_HEALTH: 'FAIL' });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/^FAIL\s+acme-queue-leases: /m);
  });
});
