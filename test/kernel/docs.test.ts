import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { CONFIG_KEYS } from '../../sdk/plugin.ts';
import { REPO_ROOT } from '../helpers/tmp.ts';

describe('configuration docs', () => {
  it('lists every setting with its variable and key', () => {
    const doc = readFileSync(`${REPO_ROOT}/docs/configuration.md`, 'utf8');
    const missing = Object.entries(CONFIG_KEYS).filter(([k, s]) => !doc.includes(`\`${s.env}\` | \`${k}\``)).map(([k]) => k);
    expect(missing).to.deep.equal([]);
  });
});
