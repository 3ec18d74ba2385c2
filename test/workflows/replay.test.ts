import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { newEncryptionKeySpec, parseEncryptionKeys } from '../../config/encryption.js';
import { droverDataConverter } from '../../config/temporal-connection.js';
import { WORKFLOWS_PATH } from '../../workers/worker.js';
import { WORKFLOW_TRACING_MODULE } from '../../tracing/worker.js';

const HISTORIES = fileURLToPath(new URL('../histories/', import.meta.url));
const ALTERED = fileURLToPath(new URL('./fixtures/altered-workflows.ts', import.meta.url));
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

interface Recorded {
  workflowId: string;
  history: proto.temporal.api.history.v1.History;
}

/** Every history recorded by test/histories/record.ts, as the server sent it. */
async function recorded(): Promise<Recorded[]> {
  const out: Recorded[] = [];
  for (const scenario of (await readdir(HISTORIES, { withFileTypes: true })).filter((d) => d.isDirectory())) {
    for (const file of (await readdir(`${HISTORIES}${scenario.name}`)).sort()) {
      const json = JSON.parse(await readFile(`${HISTORIES}${scenario.name}/${file}`, 'utf8'));
      out.push({ workflowId: `${scenario.name}/${file}`, history: proto.temporal.api.history.v1.History.fromObject(json) });
    }
  }
  return out;
}

async function replay(workflowBundle: WorkflowBundleWithSourceMap, histories: Recorded[], dataConverter: DataConverter = {}) {
  const failures: string[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle, replayName: 'drover-replay', dataConverter }, histories)) {
    if (r.error) failures.push(`${r.workflowId}: ${r.error.name}: ${r.error.message.slice(0, 300)}`);
  }
  return failures;
}

/**
 * Safe deploys: the workflow code of this commit must replay every history recorded from real
 * runs (each workflow type; completion, continue-as-new, cancel, pause, limits, budget waits,
 * deadlines, failed and terminated chunks, realtime repair, a provider that lost its batches).
 * A change that would break running batches after a deploy fails here; put it behind
 * `patched()` (see docs/reliability.md) instead.
 */
describe('replay of recorded histories', () => {
  let histories: Recorded[];
  let current: Promise<WorkflowBundleWithSourceMap> | undefined;
  const currentBundle = () => (current ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet }));
  before(async () => {
    histories = await recorded();
  });

  test('every recorded history replays on the current workflow code', async () => {
    assert.ok(histories.length >= 40, `${histories.length} histories recorded`);
    const types = new Set(histories.map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
    assert.deepEqual([...types].sort(), ['deliverWebhookWorkflow', 'processBatchWorkflow', 'processChunkWorkflow']);
    assert.deepEqual(await replay(await currentBundle(), histories), []);
  });

  test('they replay with the payload codec configured too: decode passes plain payloads through', async () => {
    const dataConverter = droverDataConverter({ DROVER_ENCRYPTION_KEYS: parseEncryptionKeys(newEncryptionKeySpec()) });
    assert.equal(dataConverter.payloadCodecs?.length, 1);
    assert.deepEqual(await replay(await currentBundle(), histories, dataConverter), []);
  });

  test('they replay with the tracing interceptors bundled in, as the pre-built bundle has them: spans and headers change no command', async () => {
    const traced = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      workflowInterceptorModules: [WORKFLOW_TRACING_MODULE],
      logger: quiet,
    });
    assert.match(traced.code, /OpenTelemetryInboundInterceptor/);
    assert.deepEqual(await replay(traced, histories), []);
  });

  test('a change in command order is caught: the same histories fail on altered workflow code', async () => {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: ALTERED, logger: quiet });
    // Chunks that ran to completion scheduled activities where the altered code sets a timer.
    const chunks = histories.filter(
      (h) => h.workflowId.split('/')[1]!.startsWith('chunk-') && h.history.events?.at(-1)?.workflowExecutionCompletedEventAttributes,
    );
    assert.ok(chunks.length >= 20, `${chunks.length} completed chunk histories`);
    const failures = await replay(workflowBundle, chunks);
    const passed = chunks.map((c) => c.workflowId).filter((id) => !failures.some((f) => f.startsWith(`${id}:`)));
    assert.deepEqual(passed, [], 'every completed chunk history fails to replay');
    assert.match(failures[0]!, /Nondeterminism|DeterminismViolation/i);
  });
});
