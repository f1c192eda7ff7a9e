import { expect } from 'chai';
import { walkSources } from '../../builtin-plugins/discovery/walk.ts';
import { tempProject, type TempProject } from './helpers.ts';

describe('discovery: walking the sources', () => {
  let p: TempProject;
  afterEach(() => p.cleanup());

  it('lists every scanned extension and skips declaration files and others', () => {
    p = tempProject({
      'a.ts': '', 'b.mts': '', 'c.cts': '', 'd.tsx': '', 'e.js': '', 'f.mjs': '', 'g.cjs': '',
      'types.d.ts': '', 'm.d.mts': '', 'readme.md': '', 'data.json': '',
    });
    expect(walkSources(p.root)).to.deep.equal(['a.ts', 'b.mts', 'c.cts', 'd.tsx', 'e.js', 'f.mjs', 'g.cjs']);
  });

  it('skips node_modules, dist, build, .git, .nuvom and coverage at any depth', () => {
    p = tempProject({
      'src/a.ts': '', 'node_modules/x/i.js': '', 'dist/i.js': '', 'build/i.js': '', '.git/h.js': '',
      '.nuvom/x.ts': '', 'coverage/c.js': '', 'pkg/sub/node_modules/y.ts': '', 'pkg/sub/dist/z.ts': '',
    });
    expect(walkSources(p.root)).to.deep.equal(['src/a.ts']);
  });

  it('applies .nuvomignore with gitignore semantics: globs, directories, comments and negation', () => {
    p = tempProject({
      '.nuvomignore': '# generated code\n**/*.gen.ts\nlegacy/\n*.test.ts\n!keep.test.ts\n',
      'src/a.ts': '', 'src/b.gen.ts': '', 'legacy/old.ts': '', 'src/legacy/old2.ts': '', 'src/x.test.ts': '', 'keep.test.ts': '',
    });
    expect(walkSources(p.root)).to.deep.equal(['keep.test.ts', 'src/a.ts']);
  });

  it('lets .nuvomignore re-include a default-ignored directory', () => {
    p = tempProject({ '.nuvomignore': '!build/\n', 'build/tasks.ts': '', 'dist/x.ts': '' });
    expect(walkSources(p.root)).to.deep.equal(['build/tasks.ts']);
  });

  it('limits the scan to --include globs relative to the root', () => {
    p = tempProject({ 'src/tasks/a.ts': '', 'src/tasks/deep/b.ts': '', 'src/other.ts': '', 'scripts/c.ts': '' });
    expect(walkSources(p.root, { include: ['src/tasks/**'] })).to.deep.equal(['src/tasks/a.ts', 'src/tasks/deep/b.ts']);
  });

  it('takes several --include globs', () => {
    p = tempProject({ 'a/x.ts': '', 'b/y.ts': '', 'c/z.ts': '' });
    expect(walkSources(p.root, { include: ['a/**', 'c/*.ts'] })).to.deep.equal(['a/x.ts', 'c/z.ts']);
  });

  it('drops files matching --exclude globs', () => {
    p = tempProject({ 'src/a.ts': '', 'src/a.test.ts': '', 'src/deep/b.spec.ts': '' });
    expect(walkSources(p.root, { exclude: ['**/*.test.ts', '**/*.spec.ts'] })).to.deep.equal(['src/a.ts']);
  });

  it('drops a whole directory an --exclude glob matches', () => {
    p = tempProject({ 'src/a.ts': '', 'fixtures/x.ts': '', 'fixtures/deep/y.ts': '' });
    expect(walkSources(p.root, { exclude: ['fixtures'] })).to.deep.equal(['src/a.ts']);
  });
});
