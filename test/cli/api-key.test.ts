import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveApiKey } from '../../cli/api-key.js';

describe('which key the CLI sends', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'drover-key-'));
    await writeFile(join(dataDir, 'admin-key'), 'drv_fromthefile\n');
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  const local = new URL('http://127.0.0.1:3000');
  test('--api-key, then DROVER_API_KEY, then the local dev stack’s key file', () => {
    const env = { DROVER_DATA_DIR: dataDir };
    assert.equal(resolveApiKey('drv_flag', { ...env, DROVER_API_KEY: 'drv_env' }, local), 'drv_flag');
    assert.equal(resolveApiKey(undefined, { ...env, DROVER_API_KEY: 'drv_env' }, local), 'drv_env');
    assert.equal(resolveApiKey(undefined, env, local), 'drv_fromthefile');
    assert.equal(resolveApiKey(undefined, { ...env, DROVER_API_KEY: '' }, new URL('http://localhost:3000')), 'drv_fromthefile');
    assert.equal(resolveApiKey(undefined, env, new URL('http://[::1]:3000')), 'drv_fromthefile');
  });

  test('a remote API never gets the local key; no file, no key', () => {
    const env = { DROVER_DATA_DIR: dataDir };
    for (const url of ['https://drover.example.com', 'http://10.0.0.5:3000', 'http://127.0.0.1.example.com:3000'])
      assert.equal(resolveApiKey(undefined, env, new URL(url)), undefined, url);
    assert.equal(resolveApiKey(undefined, { DROVER_DATA_DIR: join(dataDir, 'none') }, local), undefined);
  });
});
