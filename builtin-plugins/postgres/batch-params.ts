/**
 * A batch's parameters, column by column, for the enqueue INSERT (enqueue.ts) and the settle UPDATE
 * (settle.ts, enqueue.ts): a column whose every row holds the same value goes once ('s' in the shape), the others
 * as arrays to unnest ('a'), or, where the caller allows it, as one joined text the server splits
 * ('j'). The rows of one batch mostly differ in a few columns (a map(): ids and arguments; a batch
 * of SUCCESS acks: ids, times and histories), and node-postgres wrote, and the server parsed, every
 * element of every array (1,000 enqueued rows: 24 -> 15 µs a row; a settle: 4 arrays instead of 21).
 * Must never: change a value on its way (a joined column whose values could be misread goes as an array).
 */

/** A column of a batch: its value on row i. */
export type Column = (i: number) => unknown;

export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b));
}

/*
 * A column's values as one text, joined by a unit separator (U+001F), NULL written as U+001E: the
 * server splits it (string_to_array, then a cast) instead of parsing an array literal, and the
 * driver sends it as is instead of quoting and escaping every element (histories' JSON is full of
 * quotes; the settle's SQL splits on E'\\x1f' and E'\\x1e'). null when a value holds either character (JSON.stringify never writes one unescaped;
 * an id might) or is not a number or a string: the column then goes as an array.
 */
const SEP = '\u001f';
const NUL = '\u001e';

function joinValues(values: unknown[]): string | null {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let text: string;
    if (v === null || v === undefined) text = NUL;
    else if (typeof v === 'number') text = String(v);
    else if (typeof v === 'string') {
      if (v.includes(SEP) || v.includes(NUL)) return null;
      text = v;
    } else return null;
    out = i === 0 ? text : out + SEP + text;
  }
  return out;
}

/**
 * The shape (a letter a column) and parameters of `n` rows; `joinable(c)`: column c may go as
 * joined text. A column's array is only built once a row differs from the first.
 */
export function compact(n: number, cols: Column[], joinable: (c: number) => boolean = () => false): { shape: string; params: unknown[] } {
  let shape = '';
  // Arrays grown by push, never `new Array(n)`: a holey array's elements kind changed under the
  // optimized code (a string, a number, an array where it had seen another), and V8 threw the
  // code away and compiled it again, four times in a 10,000-job drain.
  const params: unknown[] = [];
  const ncols = cols.length;
  for (let c = 0; c < ncols; c++) {
    const col = cols[c];
    const first = col(0);
    let i = 1;
    while (i < n && sameValue(col(i), first)) i++;
    if (i === n) {
      shape += 's';
      params.push(first);
      continue;
    }
    const values: unknown[] = [];
    for (let k = 0; k < i; k++) values.push(first);
    for (let k = i; k < n; k++) values.push(col(k));
    const joined = joinable(c) ? joinValues(values) : null;
    shape += joined === null ? 'a' : 'j';
    params.push(joined ?? values);
  }
  return { shape, params };
}
