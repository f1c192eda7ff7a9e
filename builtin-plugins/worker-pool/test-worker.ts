/**
 * `nuvom runtestworker run JOB_FILE [--task-module PATH]`: runs one job from a JSON file in this
 * process, with no queue and no storage: for trying a task by hand and for debugging. The task's
 * hooks and currentJob() work; the timeout aborts the signal (a CPU loop cannot be stopped in-process:
 * use a real worker for that).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getTask, importFile, isTask, messageOf, NuvomError, runInJob, type PluginContext } from '../../sdk/plugin.ts';

interface JobFile { taskName: string; args: unknown[]; timeoutSecs?: number }

/** Reads and checks the job file; errors say what is wrong and how the file should look. */
export function readJobFile(file: string): JobFile {
  const example = '{ "taskName": "add", "args": [2, 3] }';
  if (!existsSync(file)) throw new NuvomError('NUVOM_E_USAGE', `job file ${file} does not exist`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new NuvomError('NUVOM_E_USAGE', `job file ${file} is not valid JSON (${messageOf(err)}); expected e.g. ${example}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new NuvomError('NUVOM_E_USAGE', `job file ${file} must hold an object such as ${example}`);
  const d = doc as Record<string, unknown>;
  const taskName = d.taskName ?? d.func_name;
  if (typeof taskName !== 'string' || !taskName) throw new NuvomError('NUVOM_E_USAGE', `job file ${file} has no "taskName" string; expected e.g. ${example}`);
  const args = d.args ?? [];
  if (!Array.isArray(args)) throw new NuvomError('NUVOM_E_USAGE', `job file ${file}: "args" must be a list, e.g. [2, 3]`);
  if (d.timeoutSecs !== undefined && !(typeof d.timeoutSecs === 'number' && d.timeoutSecs > 0)) {
    throw new NuvomError('NUVOM_E_USAGE', `job file ${file}: "timeoutSecs" must be a number > 0`);
  }
  return { taskName, args, timeoutSecs: d.timeoutSecs as number | undefined };
}

export async function runTestJob(ctx: PluginContext, file: string, taskModule?: string): Promise<void> {
  const job = readJobFile(path.resolve(ctx.config.cwd, file));
  let url: string | null = null;
  if (taskModule) {
    const p = path.resolve(ctx.config.cwd, taskModule);
    if (!existsSync(p)) throw new NuvomError('NUVOM_E_USAGE', `--task-module ${p} does not exist`);
    url = pathToFileURL(p).href;
  } else {
    url = ctx.resolve('registry').get(job.taskName)?.moduleUrl ?? null;
  }
  let t = getTask(job.taskName);
  if (!t && url) {
    let mod: Record<string, unknown>;
    try {
      mod = await importFile(fileURLToPath(url));
    } catch (err) {
      throw new NuvomError('NUVOM_E_TASK_UNKNOWN', `could not import task module ${url}: ${messageOf(err)}`);
    }
    t = getTask(job.taskName) ?? Object.values(mod).find((v) => isTask(v) && v.name === job.taskName) as typeof t;
  }
  if (!t) {
    const known = ctx.resolve('registry').list().map((r) => r.name);
    throw new NuvomError('NUVOM_E_TASK_UNKNOWN', `task "${job.taskName}" not found${taskModule ? ` in ${taskModule}` : ''}; ${known.length ? `known: ${known.join(', ')}` : 'pass --task-module PATH or run `nuvom discover tasks`'}`);
  }
  const task = t;
  const controller = new AbortController();
  const timeoutSecs = job.timeoutSecs ?? task.options.timeoutSecs ?? ctx.config.jobTimeoutSecs;
  const timer = setTimeout(() => { const e = new Error(`the job timed out after ${timeoutSecs}s`); e.name = 'TimeoutError'; controller.abort(e); }, timeoutSecs * 1000);
  timer.unref();
  const info = { id: `test-${randomUUID().slice(0, 8)}`, taskName: task.name, attempt: 1, signal: controller.signal };
  const hookJob = { ...info, args: job.args };
  try {
    const result = await runInJob(info, async () => {
      await task.options.beforeJob?.(hookJob);
      try {
        const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }));
        const r = await Promise.race([Promise.resolve(task.fn(...job.args)), aborted]);
        await task.options.afterJob?.(hookJob, r);
        return r;
      } catch (err) {
        await task.options.onError?.(hookJob, err as Error);
        throw err;
      }
    });
    process.stdout.write(`${JSON.stringify(result === undefined ? null : result)}\n`);
    process.stderr.write(`SUCCESS ${task.name}\n`);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`FAILED ${task.name}: ${e.name}: ${e.message}\n`);
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
  }
}
