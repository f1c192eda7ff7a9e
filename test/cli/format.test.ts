import { expect } from 'chai';
import { formatAge, formatDuration, parseDuration } from '../../builtin-plugins/cli-ops/duration.ts';
import { paint, table, termWidth, toJson, truncate, useColor } from '../../sdk/cli-format.ts';
import { statsView } from '../../builtin-plugins/cli-ops/stats.ts';
import { isNuvomError } from '../../sdk/plugin.ts';

describe('cli-ops: durations', () => {
  it('parses 7d, 12h, 30m, 90s, 500ms, 2w and sums such as 1h30m', () => {
    expect(parseDuration('7d')).to.equal(7 * 86_400_000);
    expect(parseDuration('12h')).to.equal(12 * 3_600_000);
    expect(parseDuration('30m')).to.equal(1_800_000);
    expect(parseDuration('90s')).to.equal(90_000);
    expect(parseDuration('500ms')).to.equal(500);
    expect(parseDuration('2w')).to.equal(14 * 86_400_000);
    expect(parseDuration('1h30m')).to.equal(5_400_000);
    expect(parseDuration('1h 30m')).to.equal(5_400_000);
    expect(parseDuration('1.5h')).to.equal(5_400_000);
    expect(parseDuration('0s')).to.equal(0);
  });

  it('refuses a bare number, an unknown unit, a negative or an empty duration as NUVOM_E_USAGE', () => {
    for (const bad of ['30', '7x', '-1d', '', 'd', '1d2', 'soon']) {
      expect(() => parseDuration(bad, '--older-than'), bad).to.throw(/--older-than must be a duration/)
        .that.satisfies((e: unknown) => isNuvomError(e, 'NUVOM_E_USAGE'));
    }
  });

  it('formats spans for people', () => {
    expect(formatDuration(850)).to.equal('850ms');
    expect(formatDuration(4_200)).to.equal('4.2s');
    expect(formatDuration(42_000)).to.equal('42s');
    expect(formatDuration(185_000)).to.equal('3m 05s');
    expect(formatDuration(7_800_000)).to.equal('2h 10m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).to.equal('3d 4h');
  });

  it('formats ages in one unit', () => {
    expect([formatAge(-5), formatAge(59_999), formatAge(60_000), formatAge(7_200_000), formatAge(3 * 86_400_000)])
      .to.deep.equal(['0s ago', '59s ago', '1m ago', '2h ago', '3d ago']);
  });
});

describe('cli-ops: output formatting', () => {
  const plain = paint(false);

  it('cuts a long cell with an ellipsis', () => {
    expect(truncate('abcdef', 6)).to.equal('abcdef');
    expect(truncate('abcdefg', 6)).to.equal('abcde…');
    expect(truncate('ab😀cd', 4)).to.equal('ab…');
  });

  it('fits a table to the width by shrinking columns in their order, keeping the others whole', () => {
    const rows = [['id-000000000001', 'x'.repeat(80)], ['id-2', 'short']];
    const t = table([{ header: 'ID', shrink: 2, min: 15 }, { header: 'NOTE', shrink: 1, min: 8 }], rows, { width: 40, paint: plain });
    const lines = t.split('\n');
    for (const l of lines) expect(l.length).to.be.at.most(40);
    expect(lines[1]).to.equal(`id-000000000001  ${'x'.repeat(22)}…`);
    expect(lines[2]).to.equal('id-2             short');
  });

  it('never lets a newline or control character break a row', () => {
    const t = table([{ header: 'A' }, { header: 'B' }], [['one\ntwo', 'x\x1b[31my']], { width: 80, paint: plain });
    expect(t.split('\n')).to.have.length(2);
    expect(t).not.to.include('\x1b');
  });

  it('colours only on a terminal or with FORCE_COLOR, never with NO_COLOR', () => {
    expect(useColor({}, { isTTY: false })).to.equal(false);
    expect(useColor({}, { isTTY: true })).to.equal(true);
    expect(useColor({ NO_COLOR: '1' }, { isTTY: true })).to.equal(false);
    expect(useColor({ FORCE_COLOR: '1' }, { isTTY: false })).to.equal(true);
    expect(useColor({ FORCE_COLOR: '1', NO_COLOR: 'yes' }, { isTTY: true })).to.equal(false);
    expect(useColor({ NO_COLOR: '' }, { isTTY: true })).to.equal(true);
  });

  it('takes the width from the terminal, else $COLUMNS, else no limit', () => {
    expect(termWidth({ COLUMNS: '50' }, { isTTY: true, columns: 120 })).to.equal(120);
    expect(termWidth({ COLUMNS: '50' }, { isTTY: false })).to.equal(50);
    expect(termWidth({}, { isTTY: false })).to.equal(Infinity);
  });

  it('writes JSON for values JSON.stringify cannot take (BigInt, Infinity, NaN, bytes, Map, Set)', () => {
    const v = { big: 2n ** 70n, bytes: Buffer.from('hi'), u8: new Uint8Array([1, 2]), map: new Map([['a', 1]]), odd: new Map([[1, 'x']]), set: new Set([1, 2]), when: new Date(0) };
    expect(JSON.parse(toJson(v))).to.deep.equal({
      big: '1180591620717411303424', bytes: { $bytes: 'aGk=' }, u8: { $bytes: 'AQI=' }, map: { a: 1 }, odd: [[1, 'x']], set: [1, 2], when: '1970-01-01T00:00:00.000Z',
    });
    expect(toJson(undefined)).to.equal('null');
    // JSON writes null for these: `nuvom enqueue add 1e400 2` showed args [null, 2].
    expect(JSON.parse(toJson({ args: [Infinity, -Infinity, NaN, 2] }))).to.deep.equal({ args: ['Infinity', '-Infinity', 'NaN', 2] });
  });
});

describe('cli-ops: stats view', () => {
  it('totals per task and status, the oldest pending age and throughput per second', () => {
    const now = Date.parse('2030-01-01T00:01:00.000Z');
    const v = statsView({
      byStatus: { PENDING: 2, RUNNING: 0, RETRYING: 0, SUCCESS: 5, FAILED: 1, CANCELLED: 0 },
      byTask: { b: { SUCCESS: 5 }, a: { PENDING: 2, FAILED: 1 } },
      oldestPendingAt: '2030-01-01T00:00:00.000Z',
      completedSince: 6,
    }, now, '1m', 60_000);
    expect(v.total).to.equal(8);
    expect(Object.keys(v.byTask)).to.deep.equal(['a', 'b']);
    expect(v.byTask.a).to.deep.include({ PENDING: 2, FAILED: 1, SUCCESS: 0, total: 3 });
    expect(v.oldestPendingAgeSecs).to.equal(60);
    expect(v.throughputPerSec).to.equal(0.1);
  });
});
