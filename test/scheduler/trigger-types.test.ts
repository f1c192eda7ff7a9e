/**
 * The `Trigger` type refuses what schedule() refuses at run time: misfire on a one-off, two times,
 * a timezone without cron (docs/scheduling.md "Misfires"). Compiles fixtures/trigger-types.ts alone
 * with the real compiler; its @ts-expect-error lines must each be an error.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../helpers/tmp.ts';

function tsc(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--skipLibCheck', '--pretty', 'false',
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--allowImportingTsExtensions', '--types', 'node', file], { cwd: REPO_ROOT });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { text += s; });
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
}

describe('scheduler: the Trigger type', function () {
  this.timeout(60_000);

  it('does not compile misfire on a one-off, two times, or a timezone without cron', async () => {
    const out = await tsc(path.join(REPO_ROOT, 'test/scheduler/fixtures/trigger-types.ts'));
    expect(out.trim(), out).to.equal('');
  });
});
