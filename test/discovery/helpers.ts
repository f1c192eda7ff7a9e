/** Temp project trees for discovery tests. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface TempProject {
  root: string;
  manifestPath: string;
  write(rel: string, content: string): string;
  cleanup(): void;
}

export function tempProject(files: Record<string, string> = {}): TempProject {
  const root = mkdtempSync(join(tmpdir(), 'nuvom-discovery-test-'));
  const project: TempProject = {
    root,
    manifestPath: join(root, '.nuvom', 'manifest.json'),
    write(rel, content) {
      const abs = join(root, rel);
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, content);
      return abs;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  for (const [rel, content] of Object.entries(files)) project.write(rel, content);
  return project;
}

export const IMPORT = "import { task } from 'nuvom';\n";
