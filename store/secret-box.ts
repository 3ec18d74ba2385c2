import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Secrets the store must keep but not show, such as a batch's webhook secret (deliveries are
 * signed with it, so it cannot be a hash): sealed with AES-256-GCM before they are written,
 * opened only where they are used.
 *
 * The key is `DROVER_SECRET_KEY` (32 bytes as 64 hex digits or base64). Without it, the key is a
 * file `secret.key` in the data dir (`DROVER_DATA_DIR`, else `.data/`), created once with mode
 * 0600: what `npm run dev` and the tests use, where the API and the worker share that dir. Processes
 * on different machines must be given the same `DROVER_SECRET_KEY`.
 *
 * A sealed value reads `sealed:v1:<key id>:<iv>.<tag>.<ciphertext>` (base64url); the key id (a
 * hash prefix of the key) makes a worker holding another key fail with a clear message. Values
 * written before sealing existed (plain `whsec_…`) are read as they are.
 */

const PREFIX = 'sealed:v1:';
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export class SecretKeyMismatchError extends Error {}

interface Key {
  bytes: Buffer;
  id: string;
}

let cached: Key | undefined;

function parseKey(text: string): Buffer {
  const t = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (bytes.length !== 32) throw new Error('DROVER_SECRET_KEY must be 32 bytes, as 64 hex digits or base64 (openssl rand -hex 32)');
  return bytes;
}

function keyFile(env: NodeJS.ProcessEnv): Buffer {
  const path = join(env.DROVER_DATA_DIR ?? join(REPO_ROOT, '.data'), 'secret.key');
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path)) {
    // Written whole under another name, then linked into place: of two processes starting
    // together, one key wins and neither ever reads a half-written file.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  return parseKey(readFileSync(path, 'utf8'));
}

/** The key, read once per process. */
export function secretKey(env: NodeJS.ProcessEnv = process.env): Key {
  if (cached) return cached;
  const bytes = env.DROVER_SECRET_KEY ? parseKey(env.DROVER_SECRET_KEY) : keyFile(env);
  cached = { bytes, id: createHash('sha256').update(bytes).digest('hex').slice(0, 8) };
  return cached;
}

export function sealSecret(plain: string, key: Key = secretKey()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${PREFIX}${key.id}:${[iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.')}`;
}

export function openSecret(stored: string, key: Key = secretKey()): string {
  if (!stored.startsWith(PREFIX)) return stored;
  const [id, rest] = stored.slice(PREFIX.length).split(':');
  if (id !== key.id)
    throw new SecretKeyMismatchError(
      `a secret was sealed with key ${id} but this process has key ${key.id}: give the API and the worker the same DROVER_SECRET_KEY`,
    );
  const [iv, tag, data] = (rest ?? '').split('.').map((p) => Buffer.from(p, 'base64url'));
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv!);
  decipher.setAuthTag(tag!);
  return Buffer.concat([decipher.update(data!), decipher.final()]).toString('utf8');
}
