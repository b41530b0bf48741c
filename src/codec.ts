import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { undecodablePayload } from './api/payload-converter';

const ENCODING = 'binary/encrypted';
const CIPHER = 'aes-256-gcm+gzip';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Keys by id (32 bytes each) and the id new payloads are encrypted with. */
export interface CodecKeys {
  keys: Record<string, Buffer>;
  activeKeyId: string;
}

/**
 * Encryption at rest for everything the conversation puts in Temporal (transcripts, tool inputs and
 * results, decisions): each payload is compressed, then encrypted with AES-256-GCM under the active key,
 * its key id kept in the payload's metadata. Old keys stay listed to read old payloads: rotate by adding a
 * key and making it active. Search attributes are not payloads and stay readable (they hold statuses, a
 * model name, counts and times).
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly config: CodecKeys) {
    for (const [id, key] of Object.entries(config.keys)) {
      if (key.length !== 32)
        throw new Error(`encryption key ${id} must be 32 bytes (AES-256), it is ${key.length}`);
    }
    if (!config.keys[config.activeKeyId])
      throw new Error(`the active encryption key ${config.activeKeyId} is not among the keys`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.config.keys[this.config.activeKeyId];
    return payloads.map((payload) => {
      const plain = gzipSync(temporal.api.common.v1.Payload.encode(payload).finish());
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: encoder.encode(ENCODING),
          'encryption-cipher': encoder.encode(CIPHER),
          'encryption-key-id': encoder.encode(this.config.activeKeyId),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (decoder.decode(payload.metadata?.encoding ?? new Uint8Array()) !== ENCODING) return payload;
      const keyId = decoder.decode(payload.metadata?.['encryption-key-id'] ?? new Uint8Array());
      const key = this.config.keys[keyId];
      if (!key) throw new MissingKeyError(keyId);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
        decipher.setAuthTag(data.subarray(data.length - 16));
        const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
        return temporal.api.common.v1.Payload.decode(gunzipSync(plain)) as Payload;
      } catch {
        throw new Error(
          `cannot decrypt a payload with key "${keyId}": the key is wrong or the data was altered`,
        );
      }
    });
  }
}

/**
 * Parses `AGENT_ENCRYPTION_KEYS` ("id:base64key,id2:base64key") and `AGENT_ENCRYPTION_KEY_ID` (default:
 * the first id) into a codec, or undefined when no keys are configured.
 */
export function codecFromEnv(
  keysText: string | undefined,
  activeKeyId: string | undefined,
): EncryptionCodec | undefined {
  if (!keysText) return undefined;
  const keys: Record<string, Buffer> = {};
  for (const entry of keysText
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const at = entry.indexOf(':');
    if (at <= 0) throw new Error(`AGENT_ENCRYPTION_KEYS: "${entry.slice(0, 8)}..." is not id:base64key`);
    keys[entry.slice(0, at)] = Buffer.from(entry.slice(at + 1), 'base64');
  }
  const ids = Object.keys(keys);
  return new EncryptionCodec({ keys, activeKeyId: activeKeyId ?? ids[0] });
}

/** A payload under a key id this process does not have: it may decode once the key is deployed. */
export class MissingKeyError extends Error {
  constructor(readonly keyId: string) {
    super(
      `a payload is encrypted with key "${keyId}", which this process does not have (AGENT_ENCRYPTION_KEYS)`,
    );
    this.name = 'MissingKeyError';
  }
}

/**
 * The worker's side of a codec: a payload it cannot decode for good (altered or malformed data) becomes
 * an undecodable marker for the payload converter (src/api/payload-converter.ts) instead of failing the
 * whole workflow activation, so one bad signal cannot wedge a conversation. A key id the worker does
 * not have still fails the activation (see {@link MissingKeyError}): the key may be deployed later,
 * and a signal refused now but applied on a later replay would break the history.
 */
export function tolerantCodec(codec: PayloadCodec): PayloadCodec {
  return {
    encode: (payloads) => codec.encode(payloads),
    decode: (payloads) =>
      Promise.all(
        payloads.map(async (payload) => {
          try {
            const [decoded] = await codec.decode([payload]);
            return decoded;
          } catch (err) {
            if (err instanceof MissingKeyError) throw err;
            return undecodablePayload(err instanceof Error ? err.message : String(err));
          }
        }),
      ),
  };
}
