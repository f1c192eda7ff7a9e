/**
 * What every process has: the serializer, the logger and the clock. Types only.
 */
/** Encodes user values (arguments, results). Must throw NUVOM_E_UNSERIALIZABLE naming the path of a bad value. */
export interface Serializer {
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A source of time. The real one reads Date.now(); tests pass a controllable one. */
export interface Clock {
  now(): number;
}

