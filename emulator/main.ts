/**
 * Runs the emulator as its own process, for end-to-end runs and manual poking:
 *   PORT=4010 EMULATOR_PROCESSING_MS=2000 npx tsx emulator/main.ts
 * With EMULATOR_STATE_DIR its files and batches survive a restart (see state-dir.ts).
 */
import { pino } from 'pino';
import { z } from 'zod';
import { startEmulator } from './index.js';

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4010),
  HOST: z.string().default('127.0.0.1'),
  EMULATOR_PROCESSING_MS: z.coerce.number().int().min(0).default(2000),
  EMULATOR_VALIDATING_MS: z.coerce.number().int().min(0).default(0),
  EMULATOR_FINALIZING_MS: z.coerce.number().int().min(0).default(0),
  EMULATOR_STATE_DIR: z.string().min(1).optional(),
});

async function run(): Promise<void> {
  const logger = pino({ name: 'drover-emulator' });
  const env = Env.parse(process.env);
  const emulator = await startEmulator({
    port: env.PORT,
    host: env.HOST,
    processingMs: env.EMULATOR_PROCESSING_MS,
    validatingMs: env.EMULATOR_VALIDATING_MS,
    finalizingMs: env.EMULATOR_FINALIZING_MS,
    ...(env.EMULATOR_STATE_DIR ? { stateDir: env.EMULATOR_STATE_DIR } : {}),
  });
  logger.info(
    {
      url: emulator.url,
      openaiBaseURL: emulator.openaiBaseURL,
      anthropicBaseURL: emulator.anthropicBaseURL,
      geminiBaseUrl: emulator.geminiBaseUrl,
      processingMs: env.EMULATOR_PROCESSING_MS,
      stateDir: env.EMULATOR_STATE_DIR ?? null,
      restored: emulator.restored,
    },
    'emulator listening',
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'emulator stopping');
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'emulator failed to close');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
