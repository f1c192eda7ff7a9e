/**
 * Where nuvom's own files are at run time. From the sources (a checkout run through tsx) each module
 * is its own file. The built package is bundled (scripts/build.mjs): a module's code may sit in an
 * entry file or in a shared chunk (dist/chunks/), wherever esbuild put it, so a path relative to a
 * module's `import.meta.url` would break from one build to the next. Files are named here by their
 * path in the source tree instead, and found from the root.
 * Must never: import anything (the task API and the worker thread load it).
 */
const here = import.meta.url.split('?')[0];
const built = !here.endsWith('.ts');
const dist = here.lastIndexOf('/dist/');

/** The root modules are found from: the checkout (sources) or its dist/ (built), a file:// URL ending in '/'. */
export const OWN_ROOT = built && dist >= 0 ? here.slice(0, dist + '/dist/'.length) : new URL('../', here).href;

/** The package's root (where package.json is), a file:// URL ending in '/'. */
export const PACKAGE_ROOT = built && dist >= 0 ? new URL('../', OWN_ROOT).href : OWN_ROOT;

/** The URL of nuvom's module `sourcePath` (as in the source tree: "presets/default/index.ts"), as this install runs it. */
export function ownModuleUrl(sourcePath: string): string {
  return OWN_ROOT + (built ? sourcePath.replace(/\.ts$/, '.js') : sourcePath);
}

/** URL prefixes of the files holding nuvom's task API and kernel code (for telling a caller's frame from nuvom's own). */
export const OWN_API_PREFIXES: readonly string[] = ['sdk/', 'kernel/', ...(built ? ['chunks/'] : [])].map((d) => OWN_ROOT + d);
