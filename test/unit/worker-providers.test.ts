import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerEnv } from '../../workers/config.js';
import { createProviders } from '../../workers/providers.js';

const env = (vars: Record<string, string>) => WorkerEnv.parse({ DATABASE_URL: 'postgres://127.0.0.1/test', ...vars });

test('a provider with a base URL and no key is the emulator: its batches are marked synthetic', () => {
  const providers = createProviders(
    env({
      OPENAI_BASE_URL: 'http://127.0.0.1:4010/v1',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:4010',
      ANTHROPIC_API_KEY: 'sk-ant-real',
      GEMINI_BASE_URL: 'http://127.0.0.1:4010',
      OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:8000/v1',
    }),
  );
  assert.deepEqual(providers.emulated, ['openai', 'gemini'], 'a key means the real provider; a compatible server is never the emulator');
  assert.ok(providers.batch.openai && providers.batch.anthropic && providers.realtime.openai_compatible);
});

test('keys everywhere: nothing is emulated', () => {
  const providers = createProviders(env({ OPENAI_API_KEY: 'sk-real', GEMINI_API_KEY: 'g-real' }));
  assert.deepEqual(providers.emulated, []);
});
