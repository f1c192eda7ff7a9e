/** The JSON serializer: portable and readable; refuses what JSON would silently change (Map, BigInt, NaN). */
import { NuvomError, messageOf, type Serializer } from '../../sdk/plugin.ts';
import { assertSerializable, type CheckRules } from './check.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const RULES: CheckRules = {
  name: 'json',
  accepts: (v) => v !== undefined && typeof v !== 'bigint' && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null || v instanceof Date),
};

export class JsonSerializer implements Serializer {
  readonly name = 'json';

  encode(value: unknown): Uint8Array {
    assertSerializable(value, RULES);
    return encoder.encode(JSON.stringify(value === undefined ? null : value));
  }

  decode(bytes: Uint8Array): unknown {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (err) {
      throw new NuvomError('NUVOM_E_DESERIALIZE', `JSON could not decode ${bytes.byteLength} bytes: ${messageOf(err)}`, { cause: err });
    }
  }
}
