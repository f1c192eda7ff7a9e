/** Serializer plugin: provides `serializer` "msgpack" (default) and "json". */
import { definePlugin } from '../../sdk/plugin.ts';
import { JsonSerializer } from './json.ts';
import { MsgpackSerializer } from './msgpack.ts';

export { JsonSerializer, MsgpackSerializer };

export default definePlugin({
  name: 'nuvom-serializers',
  apiVersion: 1,
  description: 'msgpack (default) and JSON serializers for arguments and results',
  provides: ['serializer:msgpack', 'serializer:json'],
  defaults: { serializationBackend: 'msgpack' },
  register(ctx) {
    ctx.provide('serializer', 'msgpack', () => new MsgpackSerializer());
    ctx.provide('serializer', 'json', () => new JsonSerializer());
  },
});
