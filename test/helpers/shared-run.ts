import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startTemporalDevServer, type DevServer } from '../../stack/temporal-server.js';
import { writeWorkflowBundle } from './workflow-bundle.js';

/** Read by TestStack in each test file's process, which inherits the runner's environment. */
export const SHARED_TEMPORAL_ADDRESS = 'DROVER_TEST_TEMPORAL_ADDRESS';
export const SHARED_WORKFLOW_BUNDLE = 'DROVER_TEST_WORKFLOW_BUNDLE';

let temporal: DevServer | undefined;

/**
 * One Temporal dev server and one workflow bundle for a whole `npm test` run: the server is the
 * slowest part of a stack to start. Each test file still has its own namespace, task queue,
 * database, emulator, API and workers (see TestStack), so files cannot see each other's work.
 * A test file run on its own starts its own server.
 */
export async function startSharedRun(): Promise<void> {
  const [server, bundle] = await Promise.all([startTemporalDevServer(), writeWorkflowBundle()]);
  temporal = server;
  process.env[SHARED_TEMPORAL_ADDRESS] = server.address;
  process.env[SHARED_WORKFLOW_BUNDLE] = bundle;
}

export async function stopSharedRun(): Promise<void> {
  await temporal?.stop();
  const bundle = process.env[SHARED_WORKFLOW_BUNDLE];
  if (bundle) await rm(dirname(bundle), { recursive: true, force: true });
}
