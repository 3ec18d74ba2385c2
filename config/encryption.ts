import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { decode, encode } from '@temporalio/common/lib/encoding.js';
import proto from '@temporalio/proto';

/** The metadata Temporal's encryption sample uses, so its codec server and tools read ours. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/**
 * `DROVER_ENCRYPTION_KEYS`: `id:base64key[,id:base64key…]`, each key 32 bytes (AES-256). The
 * first encrypts; all decrypt, so a new key is rotated in by putting it first and keeping the
 * old ones for as long as histories they wrote are kept. Throws with a message naming the
 * entry, never the key.
 */
export function parseEncryptionKeys(spec: string): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('DROVER_ENCRYPTION_KEYS has no key: expected id:base64key[,id:base64key…]');
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id))
      throw new Error(`DROVER_ENCRYPTION_KEYS entry ${i + 1}: expected id:base64key, the id of letters, digits, '.', '_' or '-'`);
    const b64 = entry.slice(colon + 1);
    const key = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64) || key.length !== 32) {
      throw new Error(`DROVER_ENCRYPTION_KEYS key "${id}": must be 32 random bytes in base64 (openssl rand -base64 32)`);
    }
    if (keys.some((k) => k.id === id)) throw new Error(`DROVER_ENCRYPTION_KEYS key "${id}" appears twice`);
    keys.push({ id, key });
  });
  return keys;
}

/** A fresh `id:base64key` entry, for `npm run dev` and for operators (`openssl rand -base64 32` does the same). */
export function newEncryptionKeySpec(id = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/**
 * Encrypts every payload with AES-256-GCM: the whole serialized Payload (its metadata too) goes
 * into `data` as IV ‖ ciphertext ‖ tag, the layout of Temporal's encryption sample. Decoding
 * passes payloads that are not `binary/encrypted` through untouched, so histories written before
 * encryption was turned on (and the recorded test histories) still replay and read.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly current: EncryptionKey;

  constructor(keys: EncryptionKey[]) {
    const [current] = keys;
    if (!current) throw new Error('EncryptionCodec needs at least one key');
    this.current = current;
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  get keyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: encode(ENCRYPTED_ENCODING), [METADATA_ENCRYPTION_KEY_ID]: encode(this.current.id) },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || decode(encoding) !== ENCRYPTED_ENCODING) return payload;
      const idBytes = payload.metadata?.[METADATA_ENCRYPTION_KEY_ID];
      if (!idBytes) throw new ValueError('an encrypted payload has no encryption-key-id');
      const id = decode(idBytes);
      const key = this.keys.get(id);
      if (!key) throw new ValueError(`no key "${id}" in DROVER_ENCRYPTION_KEYS to decrypt this payload (a key removed too early?)`);
      const data = payload.data;
      if (!data || data.length < IV_BYTES + TAG_BYTES) throw new ValueError('an encrypted payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return proto.temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
