import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, NuvomError } from '../../sdk/plugin.ts';
import { REPO_ROOT } from '../helpers/tmp.ts';

describe('error codes', () => {
  it('documents every code in docs/errors.md', () => {
    const doc = readFileSync(`${REPO_ROOT}/docs/errors.md`, 'utf8');
    const missing = Object.keys(ERROR_CODES).filter((c) => !doc.includes(`\`${c}\``));
    expect(missing, 'codes missing from docs/errors.md').to.deep.equal([]);
  });

  it('prefixes the message with the plugin and hook that failed', () => {
    const e = new NuvomError('NUVOM_E_HOOK', 'boom', { plugin: 'p', hook: 'enqueue' });
    expect(e.message).to.equal('[plugin "p", hook "enqueue"] boom');
    expect(e).to.include({ code: 'NUVOM_E_HOOK', plugin: 'p', hook: 'enqueue', name: 'NuvomError' });
  });
});
