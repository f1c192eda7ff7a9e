/**
 * The row values of a record (rows.ts, no database): the attempts a write brings are stored as the
 * very JSON text JSON.stringify gives, whatever their strings hold. (The settle reads that text back,
 * and its one-statement path looks for `"startedAt":null` in it.)
 */
import { expect } from 'chai';
import { toRecordRow } from '../../builtin-plugins/postgres/rows.ts';
import { MsgpackSerializer } from '../../builtin-plugins/serializers/index.ts';
import { historyOf, type AttemptRecord } from '../../sdk/plugin.ts';
import { makeJobRecord } from '../../sdk/testing/index.ts';

const serializer = new MsgpackSerializer();
const at = '2026-12-07T12:00:00.000Z';

function attempt(over: Partial<AttemptRecord>): AttemptRecord {
  return { attempt: 1, startedAt: at, endedAt: '2026-12-07T12:00:01.500Z', outcome: 'SUCCESS', error: null, workerId: 'host-1:42:abc', threadId: 3, ...over };
}

describe('postgres: record rows', () => {
  it('writes the attempts a record brings as JSON.stringify writes them, for any strings and numbers', () => {
    const odd = ['plain', 'with "quotes"', 'back\\slash', 'tab\tnew\nline', '\u0000\u001f control', 'é ü 日本', 'lone \ud800 surrogate', 'emoji 😀', '', '</script>'];
    const histories: AttemptRecord[][] = [
      [attempt({})],
      [attempt({ startedAt: null, outcome: 'INTERRUPTED', threadId: null, workerId: null })],
      [attempt({ outcome: 'FAILED', error: { name: 'TypeError', message: 'bad "x"\nsecond line', stack: 'TypeError: bad\n    at f (file:///a.js:1:2)' } }), attempt({ attempt: 2 })],
      [attempt({ threadId: Number.NaN }), attempt({ attempt: 2, threadId: Number.POSITIVE_INFINITY }), attempt({ attempt: 3, threadId: 0 })],
      ...odd.map((s) => [attempt({ workerId: s, error: { name: s, message: s, stack: null } })]),
    ];
    for (const history of histories) {
      const record = makeJobRecord({ status: 'SUCCESS', attempts: history.length, history });
      const row = toRecordRow(record, serializer);
      expect(row.incoming).to.equal(JSON.stringify(historyOf(history, record.id, 'NUVOM_E_USAGE')));
      expect(JSON.parse(row.incoming)).to.deep.equal(JSON.parse(JSON.stringify(history)));
    }
  });

  it('writes each record its own attempt when records follow one another that differ in one field only', () => {
    const base = attempt({});
    const variants: AttemptRecord[] = [
      base, { ...base, attempt: 2 }, base, { ...base, startedAt: '2026-12-07T12:00:00.001Z' }, { ...base, endedAt: at }, base,
      { ...base, outcome: 'TIMED_OUT' }, { ...base, workerId: 'host-2:42:abc' }, { ...base, workerId: null }, { ...base, threadId: null },
      { ...base, threadId: 4 }, { ...base, threadId: Number.NaN }, { ...base, threadId: Number.NaN }, { ...base, threadId: 3 }, base,
      { ...base, error: { name: 'Error', message: 'x', stack: null } }, base,
    ];
    for (const a of variants) {
      const record = makeJobRecord({ status: 'SUCCESS', attempts: 1, history: [{ ...a }] });
      expect(toRecordRow(record, serializer).incoming).to.equal(JSON.stringify([a]));
    }
  });

  it('still refuses a malformed attempt before anything is written', () => {
    const record = makeJobRecord({ status: 'SUCCESS', history: [attempt({ outcome: 'WON' as never })] });
    expect(() => toRecordRow(record, serializer)).to.throw(/outcome "WON" is not one of/);
  });
});
