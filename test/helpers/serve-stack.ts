import { TestStack } from './stack.js';

/**
 * A real test stack for tests written in another language (the Python client's pytest session):
 * the Temporal dev server (the run's shared one when DROVER_TEST_TEMPORAL_ADDRESS is set, else a
 * server of its own), a scratch PostgreSQL database, the provider emulator, the API and one worker.
 *
 *   node --import tsx test/helpers/serve-stack.ts [--processing-ms 200]
 *
 * Prints one JSON line on stdout once everything is up:
 *   {"base_url": "http://127.0.0.1:…", "admin_key": "drv_test_…", "emulator_url": "http://127.0.0.1:…"}
 * and stops everything (dropping the database) when its stdin closes, or on SIGTERM or SIGINT, so a
 * parent that dies without cleaning up still takes the stack down with it.
 */

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const processingMs = Number(option('processing-ms', '200'));
if (!Number.isInteger(processingMs) || processingMs < 0) throw new TypeError('--processing-ms must be a whole number ≥ 0');

const stack = new TestStack({ processingMs });
let stopping: Promise<void> | undefined;

function stop(reason: string): Promise<void> {
  stopping ??= (async () => {
    process.stderr.write(`serve-stack: stopping (${reason})\n`);
    try {
      await stack.stop();
    } catch (err) {
      process.stderr.write(`serve-stack: stop failed: ${String(err)}\n`);
      process.exitCode = 1;
    }
  })();
  return stopping;
}

const stopAndExit = (reason: string) => void stop(reason).then(() => process.exit());
process.on('SIGTERM', () => stopAndExit('SIGTERM'));
process.on('SIGINT', () => stopAndExit('SIGINT'));
process.stdin.on('end', () => stopAndExit('stdin closed'));
process.stdin.on('error', () => stopAndExit('stdin error'));
process.stdin.resume();

try {
  await stack.start();
  await stack.startWorker();
} catch (err) {
  process.stderr.write(`serve-stack: the stack did not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stop('start failed');
  process.exit(1);
}
if (!stopping) {
  process.stdout.write(`${JSON.stringify({ base_url: stack.api.url, admin_key: stack.adminKey, emulator_url: stack.emulator.url })}\n`);
}
