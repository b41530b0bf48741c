/**
 * The payload converter of the worker (activities and the workflow sandbox): Temporal's default, except
 * that a payload it cannot decode (invalid JSON, an unknown encoding, or one the worker's codec could
 * not decrypt) becomes an {@link Undecodable} value instead of an exception.
 *
 * Why: the SDK decodes a signal's (or update's, or query's) arguments before any handler runs, so one
 * undecodable signal would fail every workflow task of its conversation, for good: the state query,
 * `end` and the ops views would fail until someone resets it. With this converter the handler gets the
 * marker and refuses it like any bad input (a signal is recorded as refused, an update is rejected).
 * A workflow input, carried state or activity result that cannot be decoded still fails the workflow
 * task (the workflow checks for the marker and throws), so the worker retries once it is fixed, as
 * before. Deterministic: the same bytes decode the same way on replay. That is why the worker's codec
 * (`tolerantCodec`) marks only payloads whose failure the bytes decide (altered or malformed data) and
 * still throws for a key id the worker does not have: that payload decodes once the key is deployed,
 * and a signal refused now but applied on a later replay would break the history. The workflow bundle must be built with it: see `CONVERSATION_BUNDLE_OPTIONS` in src/worker.ts.
 */
import { DefaultPayloadConverter, type Payload, type PayloadConverter } from '@temporalio/common';
import { decode, encode } from '@temporalio/common/lib/encoding';
import { MAX_QUOTED, quote } from './bounds';

/** The encoding of a payload the worker's codec could not decode; its data is the reason. */
export const UNDECODABLE_ENCODING = 'binary/undecodable';

/**
 * Marks an {@link Undecodable}. A symbol (from the global registry, so every copy of this module agrees)
 * that no decoded JSON can carry: an input that happens to have an `undecodable` key is not one.
 */
const UNDECODABLE = Symbol.for('claude-temporal-agent.undecodable');

/** What a handler receives for an argument the worker could not decode. */
export interface Undecodable {
  [UNDECODABLE]: true;
  /** The payload's `encoding` metadata, clipped. */
  encoding: string;
  /** Why it could not be decoded, clipped. */
  error: string;
}

export function isUndecodable(value: unknown): value is Undecodable {
  return typeof value === 'object' && value !== null && Reflect.get(value, UNDECODABLE) === true;
}

/** The payload a codec returns for one it cannot decode, so the converter makes it {@link Undecodable}. */
export function undecodablePayload(reason: string): Payload {
  return { metadata: { encoding: encode(UNDECODABLE_ENCODING) }, data: encode(reason) };
}

class LenientPayloadConverter implements PayloadConverter {
  private readonly inner = new DefaultPayloadConverter();

  toPayload<T>(value: T): Payload {
    return this.inner.toPayload(value);
  }

  fromPayload<T>(payload: Payload): T {
    const encoding = decode(payload.metadata?.encoding ?? new Uint8Array());
    if (encoding === UNDECODABLE_ENCODING) {
      return undecodable<T>(encoding, decode(payload.data ?? new Uint8Array()));
    }
    try {
      return this.inner.fromPayload<T>(payload);
    } catch (err) {
      return undecodable<T>(encoding, err instanceof Error ? err.message : String(err));
    }
  }
}

/** The marker, as the `T` the SDK asked for: the one place this module tells the type system otherwise. */
function undecodable<T>(encoding: string, error: string): T {
  const marker: Undecodable = {
    [UNDECODABLE]: true,
    encoding: quote(encoding, MAX_QUOTED),
    error: quote(error, 500),
  };
  return marker as T;
}

export const payloadConverter: PayloadConverter = new LenientPayloadConverter();
