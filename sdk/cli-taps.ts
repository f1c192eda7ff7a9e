/**
 * Adding the plugins' commands to a CLI program one `cli` tap at a time. A tap that throws (most
 * often commander refusing a command name another plugin took) costs only that plugin's commands:
 * whatever it added before the throw is taken out again, and the other plugins' taps still run.
 * Used by the `nuvom` command and by `nuvom plugin test` (which fails a plugin whose tap throws).
 * Must never: rethrow a tap's error, or leave a failing tap's commands or options half registered.
 */
import type { Command } from 'commander';
import type { CliContext } from '../kernel/hooks.ts';

export interface CliTapFailure {
  /** The plugin that tapped (the kernel names every tap a plugin makes after it). */
  plugin: string;
  /** What the tap threw: the hook bus's NuvomError, `[plugin "...", hook "cli"] ...` (NUVOM_E_HOOK). */
  error: unknown;
}

/** The part of a tapable SyncHook read here: its taps, in the order `call()` runs them. */
interface CliHook { taps: ReadonlyArray<{ name: string; fn: (...args: never[]) => unknown }> }

/** Every command's subcommands and options, from `program` down, to put back after a failed tap. */
function snapshot(program: Command): Array<{ cmd: Command; commands: Command[]; options: Command['options'][number][] }> {
  const out: Array<{ cmd: Command; commands: Command[]; options: Command['options'][number][] }> = [];
  const walk = (cmd: Command) => {
    out.push({ cmd, commands: [...cmd.commands], options: [...cmd.options] });
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  return out;
}

function restore(saved: ReturnType<typeof snapshot>): void {
  for (const { cmd, commands, options } of saved) {
    (cmd.commands as Command[]).splice(0, Infinity, ...commands);
    (cmd.options as Command['options'][number][]).splice(0, Infinity, ...options);
  }
}

export interface PluginCommands {
  /** The taps that threw; whatever each had added is taken out again. */
  failures: CliTapFailure[];
  /** The plugin whose tap added a command (a subcommand too), for naming it in that command's errors. */
  ownerOf(cmd: Command): string | undefined;
}

/** Runs the hook's taps on `program` in order, each under its own guard; `only` picks the plugins whose taps run. */
export function addPluginCommands(hook: unknown, program: Command, only: (plugin: string) => boolean = () => true): PluginCommands {
  const failures: CliTapFailure[] = [];
  const owners = new WeakMap<Command, string>();
  const ctx: CliContext = { program };
  for (const tap of (hook as CliHook).taps) {
    if (!only(tap.name)) continue;
    const saved = snapshot(program);
    try {
      // The tap as the hook bus wrapped it: what it throws already names the plugin and the hook.
      (tap.fn as (c: CliContext) => unknown)(ctx);
    } catch (error) {
      restore(saved);
      failures.push({ plugin: tap.name, error });
      continue;
    }
    const before = new Set(saved.map((s) => s.cmd));
    for (const { cmd } of snapshot(program)) if (!before.has(cmd)) owners.set(cmd, tap.name);
  }
  return { failures, ownerOf: (cmd) => owners.get(cmd) };
}
