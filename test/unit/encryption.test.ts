import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { pino } from 'pino';
import { ENCRYPTED_ENCODING, EncryptionCodec, newEncryptionKeySpec, parseEncryptionKeys } from '../../config/encryption.js';
import { REDACT_PATHS, safeFailureMessage, scrubSecrets } from '../../config/redact.js';
import { CommonEnv, parseEnv } from '../../config/env.js';
import { droverDataConverter, temporalConnectionOptions } from '../../config/temporal-connection.js';
import { sanitizeError } from '../../workers/failure-sanitizer.js';

const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString();

describe('payload encryption (config/encryption.ts)', () => {
  const payload = defaultPayloadConverter.toPayload({ prompt: 'the item text', n: 1 });

  test('encrypts every payload with AES-256-GCM under the first key, and decrypts it back', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(`${newEncryptionKeySpec('a')},${newEncryptionKeySpec('b')}`));
    const [enc] = await codec.encode([payload]);
    assert.equal(text(enc!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(enc!.metadata!['encryption-key-id']), 'a');
    assert.ok(!text(enc!.data).includes('item text'));
    assert.equal(
      enc!.data!.length,
      12 + proto.temporal.api.common.v1.Payload.encode(payload).finish().length + 16,
      'IV, the serialized payload, tag',
    );
    const [dec] = await codec.decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), { prompt: 'the item text', n: 1 });
    const [again] = await codec.encode([payload]);
    assert.notDeepEqual(again!.data, enc!.data, 'a fresh IV each time');
  });

  test('plain payloads pass decode untouched (histories from before encryption, the recorded ones)', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(newEncryptionKeySpec()));
    assert.deepEqual(await codec.decode([payload]), [payload]);
  });

  test('rotation: a new key first encrypts, the old one still decrypts; a missing key or a flipped bit is an error', async () => {
    const old = newEncryptionKeySpec('old');
    const written = await new EncryptionCodec(parseEncryptionKeys(old)).encode([payload]);
    const rotated = new EncryptionCodec(parseEncryptionKeys(`${newEncryptionKeySpec('new')},${old}`));
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode(written))[0]!), { prompt: 'the item text', n: 1 });
    assert.equal(text((await rotated.encode([payload]))[0]!.metadata!['encryption-key-id']), 'new');
    await assert.rejects(new EncryptionCodec(parseEncryptionKeys(newEncryptionKeySpec('new'))).decode(written), /no key "old"/);
    const tampered = { ...written[0]!, data: Buffer.from(written[0]!.data!) };
    tampered.data[20]! ^= 1;
    await assert.rejects(rotated.decode([tampered]), /authenticate/);
  });

  test('DROVER_ENCRYPTION_KEYS is checked at start, and its errors never show a key', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    for (const [spec, msg] of [
      [`k1:${short}`, /32 random bytes/],
      ['nokey', /expected id:base64key/],
      [`k1:${Buffer.alloc(32).toString('base64')},k1:${Buffer.alloc(32, 1).toString('base64')}`, /appears twice/],
      [`bad id:${Buffer.alloc(32).toString('base64')}`, /expected id:base64key/],
    ] as const) {
      assert.throws(
        () => parseEncryptionKeys(spec),
        (err: Error) => msg.test(err.message) && !err.message.includes(short),
      );
    }
    assert.throws(() => parseEnv(CommonEnv, { DATABASE_URL: 'x', DROVER_ENCRYPTION_KEYS: `k1:${short}` }), /DROVER_ENCRYPTION_KEYS/);
    const env = parseEnv(CommonEnv, { DATABASE_URL: 'x', DROVER_ENCRYPTION_KEYS: newEncryptionKeySpec('k1') });
    assert.equal(env.DROVER_ENCRYPTION_KEYS?.[0]?.id, 'k1');
    assert.equal(parseEnv(CommonEnv, { DATABASE_URL: 'x', DROVER_ENCRYPTION_KEYS: '' }).DROVER_ENCRYPTION_KEYS, undefined);
  });
});

describe('nothing secret in failure messages and logs (config/redact.ts)', () => {
  test('a provider message that echoes the key and the prompt keeps its gist and loses both', () => {
    const msg = `401 Incorrect API key provided: sk-proj-abcdefghijkl1234. Request: 'Summarize the quarterly report for ACME' (Bearer drv_AAAAAAAAAAAAAAAAAAAAAAAA)`;
    const safe = safeFailureMessage(msg, { untrusted: true });
    assert.equal(safe, `401 Incorrect API key provided: sk-[redacted]. Request: '[39 chars elided]' (Bearer [redacted])`);
    assert.equal(safeFailureMessage('x'.repeat(1000), { untrusted: false }).length, 400);
    assert.equal(
      safeFailureMessage(`provider "openai_compatible" has no batch API`, { untrusted: false }),
      `provider "openai_compatible" has no batch API`,
    );
    assert.equal(
      scrubSecrets('key gemini-test-secret-1 and ?key=AIzaSyA1234567890abcdefghij', ['gemini-test-secret-1']),
      'key [redacted] and ?key=[redacted]',
    );
  });

  test('a parser error quoting item text loses the quote; an ApplicationFailure keeps its type and retry settings', () => {
    let parseError: Error | undefined;
    try {
      JSON.parse('Loved it, would buy again');
    } catch (err) {
      parseError = err as Error;
    }
    assert.match(parseError!.message, /Loved it/, 'Node quotes the input');
    sanitizeError(parseError, []);
    assert.ok(!parseError!.message.includes('Loved it') && !parseError!.stack!.includes('Loved it'), parseError!.stack);

    const failure = ApplicationFailure.create({
      message: `OpenAI: 400 Invalid 'messages[0].content': 'my private prompt text'`,
      type: 'ProviderInvalidRequest',
      nonRetryable: true,
      cause: new Error('key=sk-abcdefghijklmnop'),
    });
    sanitizeError(failure, []);
    assert.equal(failure.message, `OpenAI: 400 Invalid '[19 chars elided]': '[22 chars elided]'`);
    assert.ok(!failure.stack!.includes('private prompt'));
    assert.equal(failure.type, 'ProviderInvalidRequest');
    assert.equal(failure.nonRetryable, true);
    assert.equal((failure.cause as Error).message, 'key=[redacted]');
  });

  test('pino redacts credentials by field name wherever they sit, and in logged errors', () => {
    let out = '';
    const sink = new Writable({ write: (chunk, _enc, cb) => ((out += chunk), cb()) });
    const logger = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    logger.info(
      {
        authorization: 'Bearer drv_1',
        req: { headers: { authorization: 'Bearer drv_2', 'x-api-key': 'sk-ant-3' } },
        provider: { apiKey: 'sk-4', api_key: 'sk-5' },
        key: 'drv_6',
        batch: { webhook_secret: 'whsec_7', secret: 's8' },
        DROVER_ADMIN_KEY: 'drv_9',
        env: { OPENAI_API_KEY: 'sk-10' },
      },
      'hello',
    );
    for (const secret of ['drv_1', 'drv_2', 'sk-ant-3', 'sk-4', 'sk-5', 'drv_6', 'whsec_7', 's8', 'drv_9', 'sk-10']) {
      assert.ok(!out.includes(`"${secret}"`), `${secret} redacted: ${out}`);
    }
    assert.match(out, /"msg":"hello"/);
  });
});

describe('connecting to Temporal (config/temporal-connection.ts)', () => {
  const base = { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct' };

  test('plain by default: no TLS, no key, whatever the machine has in ~/.config/temporalio', () => {
    assert.deepEqual(temporalConnectionOptions(base), { address: 'ns.acct.tmprl.cloud:7233' });
  });

  test('an API key turns TLS on; TEMPORAL_TLS=false turns it off', () => {
    assert.deepEqual(temporalConnectionOptions({ ...base, TEMPORAL_API_KEY: 'cloud-key' }), {
      address: 'ns.acct.tmprl.cloud:7233',
      apiKey: 'cloud-key',
      tls: true,
    });
    assert.equal(temporalConnectionOptions({ ...base, TEMPORAL_TLS: 'true' }).tls !== undefined, true);
    assert.equal(temporalConnectionOptions({ ...base, TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).tls, false);
  });

  test('mTLS from files or inline data, with a CA and a server name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-tls-'));
    try {
      await writeFile(join(dir, 'client.pem'), 'CERT');
      await writeFile(join(dir, 'client.key'), 'KEY');
      const fromFiles = temporalConnectionOptions({
        ...base,
        TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
        TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'CA',
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      });
      const tls = fromFiles.tls as {
        clientCertPair: { crt: Uint8Array; key: Uint8Array };
        serverRootCACertificate: Uint8Array;
        serverNameOverride: string;
      };
      assert.equal(text(tls.clientCertPair.crt), 'CERT');
      assert.equal(text(tls.clientCertPair.key), 'KEY');
      assert.equal(text(tls.serverRootCACertificate), 'CA');
      assert.equal(tls.serverNameOverride, 'temporal.internal');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('without DROVER_ENCRYPTION_KEYS payloads stay plain, and the process says so once, as a warning', () => {
    let out = '';
    const logger = pino(new Writable({ write: (chunk, _enc, cb) => ((out += chunk), cb()) }));
    assert.deepEqual(droverDataConverter({}, logger), {});
    assert.deepEqual(droverDataConverter({}, logger), {});
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, 40);
    assert.match(lines[0].msg, /DROVER_ENCRYPTION_KEYS is not set: .* unencrypted/);
    const keys = parseEncryptionKeys(newEncryptionKeySpec());
    assert.ok(droverDataConverter({ DROVER_ENCRYPTION_KEYS: keys }, logger).payloadCodecs?.[0] instanceof EncryptionCodec);
  });

  test('a named TOML profile supplies credentials; TEMPORAL_ADDRESS still wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drover-tls-'));
    try {
      const file = join(dir, 'temporal.toml');
      await writeFile(file, `[profile.cloud]\naddress = "elsewhere:7233"\napi_key = "from-profile"\n`);
      const options = temporalConnectionOptions({ ...base, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
      assert.deepEqual(options, { address: 'ns.acct.tmprl.cloud:7233', apiKey: 'from-profile', tls: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
