import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';

/**
 * Thrown when the time-skipping test server stops answering in the middle of a test, or stops
 * moving it: seen on CI as a rejected workflow task completion ("invalid history builder state
 * for action", "ACTIVITY_UNKNOWN" for an activity the workflow cancelled as it completed), after
 * which the test server never runs the workflow on. The real server takes the same commands.
 */
export class TestServerLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestServerLost';
  }
}

function testServerPath(): string | undefined {
  const local = fileURLToPath(new URL('../../.tools/venv/bin/temporal-test-server', import.meta.url));
  return process.env.TEMPORAL_TEST_SERVER_PATH ?? (existsSync(local) ? local : undefined);
}

export function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const path = testServerPath();
  return TestWorkflowEnvironment.createTimeSkipping(path ? { server: { executable: { type: 'existing-path', path } } } : {});
}

const PROBE_EVERY_MS = 2_000;
const PROBE_DEADLINE_MS = 3_000;
/** Misses in a row before the server counts as gone: one slow answer on a busy machine is not a crash. */
const MISSES_ALLOWED = 3;

async function answers(env: TestWorkflowEnvironment): Promise<boolean> {
  try {
    await env.connection.withDeadline(Date.now() + PROBE_DEADLINE_MS, () => env.connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

/**
 * Races `work` against the test server going away. A worker whose server has died never finishes
 * draining (its polls and heartbeats retry for ever), so a test that awaited it would hang its file
 * and the whole run; this rejects with TestServerLost within seconds instead. The stuck worker is
 * left behind: the runner's --test-force-exit ends the file once its tests are done.
 */
export async function whileServerAnswers<T>(env: TestWorkflowEnvironment, work: Promise<T>, stuckAfterMs = 90_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let stuck: NodeJS.Timeout | undefined;
  let settled = false;
  const lost = new Promise<never>((_, reject) => {
    let misses = 0;
    const probe = async () => {
      misses = (await answers(env)) ? 0 : misses + 1;
      if (settled) return;
      if (misses >= MISSES_ALLOWED) reject(new TestServerLost(`Temporal's time-skipping test server at ${env.address} stopped answering`));
      else timer = setTimeout(probe, PROBE_EVERY_MS);
    };
    timer = setTimeout(probe, PROBE_EVERY_MS);
    // Skipped time makes these runs take seconds; one still waiting after this is stuck in the test server.
    stuck = setTimeout(
      () =>
        reject(
          new TestServerLost(
            `a run on the time-skipping test server at ${env.address} did not end within ${stuckAfterMs / 1000} s (with skipped time these take seconds)`,
          ),
        ),
      stuckAfterMs,
    );
  });
  try {
    return await Promise.race([work, lost]);
  } finally {
    settled = true;
    clearTimeout(timer);
    clearTimeout(stuck);
  }
}
