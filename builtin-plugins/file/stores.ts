/** The file plugin's stores, in one module for plugin.ts to load when config chooses them. */
export { FileQueue } from './queue.ts';
export { FileResultStore } from './results.ts';
