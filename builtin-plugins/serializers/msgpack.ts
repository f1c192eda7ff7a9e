/** The default serializer: msgpack through msgpackr (fast; keeps Dates, Maps, Sets, BigInts, bytes). */
// 'msgpackr/pack' is msgpackr without its native string accelerator (msgpackr-extract, found and
// loaded through node-gyp-build at import: ~6-8 ms of every start). The accelerator pays only when
// decoding long strings in bulk; job arguments and results are small, and the encoding is the same.
import { Packr } from 'msgpackr/pack';
import { NuvomError, messageOf, type Serializer } from '../../sdk/plugin.ts';
import { assertSerializable, type CheckRules } from './check.ts';

const PLAIN = new Set<unknown>([Object.prototype, Array.prototype, null, Date.prototype, Map.prototype, Set.prototype]);
const RULES: CheckRules = {
  name: 'msgpack',
  wellFormed: true,
  accepts: (v) => v === undefined || typeof v === 'bigint' || ArrayBuffer.isView(v) || PLAIN.has(Object.getPrototypeOf(v)),
};

export class MsgpackSerializer implements Serializer {
  readonly name = 'msgpack';
  private readonly packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true, largeBigIntToFloat: false, int64AsType: 'bigint' });

  encode(value: unknown): Uint8Array {
    assertSerializable(value, RULES);
    try {
      return this.packr.pack(value);
    } catch (err) {
      throw new NuvomError('NUVOM_E_UNSERIALIZABLE', `msgpack could not encode the value: ${messageOf(err)}`, { cause: err });
    }
  }

  decode(bytes: Uint8Array): unknown {
    try {
      return this.packr.unpack(bytes);
    } catch (err) {
      throw new NuvomError('NUVOM_E_DESERIALIZE', `msgpack could not decode ${bytes.byteLength} bytes: ${messageOf(err)}`, { cause: err });
    }
  }
}
