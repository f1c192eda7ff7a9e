import { currentJob, task } from 'nuvom';

export const add = task({ name: 'add', retries: 2, retryDelaySecs: 1, timeoutSecs: 5 }, async (x: number, y: number) => x + y);

let calls = 0;
/** Fails on its first attempt in each worker thread, to show a retry. */
export const flaky = task({ name: 'flaky', retries: 2, retryDelaySecs: 0.2 }, async (word: string) => {
  calls++;
  if (calls === 1) throw new Error(`first attempt of job ${currentJob()?.id} fails on purpose`);
  return word.toUpperCase();
});
