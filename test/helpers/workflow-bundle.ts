import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../workers/worker.js';

/** Bundles the workflows once into a file every test worker loads, instead of each bundling at start. */
export async function writeWorkflowBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const dir = await mkdtemp(join(tmpdir(), 'drover-bundle-'));
  const path = join(dir, 'workflow-bundle.js');
  await writeFile(path, code);
  return path;
}
