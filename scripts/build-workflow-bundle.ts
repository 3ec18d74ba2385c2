import { mkdir, writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../workers/worker.js';
import { WORKFLOW_TRACING_MODULE } from '../tracing/worker.js';

/**
 * Pre-bundles workflow code so production workers start without webpack (DROVER_WORKFLOW_BUNDLE).
 * The tracing interceptors are bundled in: a bundle cannot take them later, and a worker with
 * tracing off drops their spans at the sink.
 */
async function run(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] });
  await mkdir('dist', { recursive: true });
  await writeFile('dist/workflow-bundle.js', code);
  console.log(`wrote dist/workflow-bundle.js (${(code.length / 1024).toFixed(0)} KiB)`);
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
