import { expect } from 'chai';
import { cleanupTempProjects, killAll, nuvom, project } from './helpers.ts';

describe('cli: plugin test on the durable built-in backends', function () {
  this.timeout(120_000);
  after(() => { killAll(); cleanupTempProjects(); });

  for (const spec of ['nuvom/plugins/sqlite', 'nuvom/plugins/file']) {
    it(`passes ${spec}: every conformance case starts from empty storage`, async () => {
      const r = await nuvom(project(), ['plugin', 'test', spec]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/queue "(sqlite|file)": claim returns an enqueued job/);
      expect(r.stdout).not.to.match(/^FAIL/m);
      expect(r.stdout).to.match(/all checks passed/);
      // A plugin's job store (queue and records together) runs the job store cases; the file plugin has none.
      if (spec.endsWith('sqlite')) expect(r.stdout).to.match(/^ok +jobStore "sqlite": settle is fenced after a takeover/m);
      else expect(r.stdout).not.to.match(/jobStore/);
    });
  }
});
