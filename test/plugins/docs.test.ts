import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { builtinPlugins } from '../../builtin-plugins/index.ts';
import { REPO_ROOT } from '../helpers/tmp.ts';

describe('plugin settings docs', () => {
  it('lists every setting a built-in plugin declares, with its variable, key and owner', () => {
    const doc = readFileSync(`${REPO_ROOT}/docs/configuration.md`, 'utf8');
    const declared = builtinPlugins.flatMap((p) => Object.entries(p.settings ?? {}).map(([k, s]) => ({ k, env: s.env, owner: p.name })));
    expect(declared.length).to.be.greaterThan(10);
    const missing = declared.filter(({ k, env, owner }) => !doc.includes(`\`${env}\` | \`${k}\` | ${owner} |`)).map(({ k }) => k);
    expect(missing).to.deep.equal([]);
  });
});
