/**
 * The rule for task names that arrive from anywhere (task(), enqueue by name, a manifest): no control
 * characters. A name is printed by `status`, `discover`, `inspect` and logs; an ESC or newline in it
 * would rewrite the terminal or forge log lines, so it is refused where it enters, not escaped later.
 * Must never: accept a name with C0 (U+0000-U+001F, incl. ESC and newline), DEL (U+007F) or C1 (U+0080-U+009F).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** `name` as a JSON string, with DEL and C1 escaped too (JSON.stringify leaves them raw). */
export function escapedName(name: string): string {
  return JSON.stringify(name).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Why `name` is not a usable task name, or null; the name is shown escaped (JSON) so the message is safe to print. */
export function taskNameProblem(name: string): string | null {
  const m = CONTROL.exec(name);
  if (!m) return null;
  const code = `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  return `task name ${escapedName(name)} contains a control character (${code} at index ${m.index}); task names must not contain control characters (C0, DEL, C1): rename the task`;
}
