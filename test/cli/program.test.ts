import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { invokedAs, withProgram } from '../../cli/program.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO_ROOT, 'bin', 'drover.js');

/** Runs `cmd args` in `cwd` with `env` on top of this process's, without npm's own npm_* variables. */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = REPO_ROOT,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const child = spawn(cmd, args, { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('the program name in hints', () => {
  test('follows how the CLI was run', () => {
    const npx = { npm_command: 'exec', npm_lifecycle_event: 'npx', PATH: '/usr/bin' };
    assert.equal(invokedAs(npx, '/root/.npm/_npx/1/node_modules/.bin/drover', '/w'), 'npx drover');
    assert.equal(invokedAs({ npm_command: 'run', npm_lifecycle_event: 'drover' }, '/w/cli/main.ts', '/w'), 'npm run drover --');
    assert.equal(invokedAs({ PATH: `/a${delimiter}/usr/local/bin` }, '/usr/local/bin/drover', '/w'), 'drover');
    assert.equal(invokedAs({ PATH: '/usr/bin' }, '/w/bin/drover.js', '/w'), './bin/drover.js');
    assert.equal(invokedAs({ PATH: '/usr/bin' }, '/w/bin/drover.js', '/elsewhere'), '/w/bin/drover.js');
    // npm's variables leak into children: npm test running cli/main.ts is still plain drover.
    assert.equal(invokedAs({ npm_command: 'exec' }, '/w/cli/main.ts', '/w'), 'drover');
  });

  test('rewrites command lines, not the error prefix or the name Drover', () => {
    assert.equal(
      withProgram(
        'drover: error: unknown flag --x for `drover submit`\n(see `drover help submit`)\nDrover keeps drover status b --watch',
        'npx drover',
      ),
      'drover: error: unknown flag --x for `npx drover submit`\n(see `npx drover help submit`)\nDrover keeps npx drover status b --watch',
    );
    assert.equal(withProgram('drover --help; drover 0.1.0: run', 'npm run drover --'), 'npm run drover -- --help; drover 0.1.0: run');
  });

  describe('as a user types it', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'drover-path-'));
      // What `npm link` makes: a `drover` symlink in a directory on PATH.
      await symlink(BIN, join(dir, 'drover'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    test('drover on PATH, npm run drover -- and npx drover', async () => {
      const [onPath, script, npx] = await Promise.all([
        run('drover', ['frobnicate'], { PATH: `${dir}${delimiter}${process.env.PATH}` }, tmpdir()),
        run('npm', ['run', '-s', 'drover', '--', 'status', 'b', '--url', 'http://127.0.0.1:9'], {}),
        run('npx', ['drover', 'help', 'status'], {}),
      ]);
      assert.equal(onPath.code, 2, onPath.stderr);
      assert.match(onPath.stderr, /\(see `drover --help`\)/);
      assert.equal(script.code, 1, script.stderr);
      assert.match(script.stderr, /Start a local stack with `npm run drover -- dev`/);
      assert.equal(npx.code, 0, npx.stderr);
      assert.match(npx.stdout, /^Usage: npx drover status ID/);
    });
  });
});

describe('the Node version check', () => {
  // Plain CJS, loaded the way bin/drover.js loads it.
  const check = createRequire(import.meta.url)('../../scripts/check-node.cjs') as { problem(v: string, p?: string): string | null };

  test('refuses what is older than Node 24, in one line that says how to get it', async () => {
    const { problem } = check;
    assert.equal(problem('v24.0.0'), null);
    assert.equal(problem('v25.1.0'), null);
    const line = problem('v20.20.2', '/usr/bin/node');
    assert.ok(line && !line.includes('\n'));
    assert.match(line, /needs Node\.js 24 or newer; this is v20\.20\.2 \(\/usr\/bin\/node\)\. Install Node 24 LTS \(https:\/\/nodejs\.org/);
    assert.match(problem('v22.11.0')!, /this is v22\.11\.0/);
  });

  // The machine's own Node when it is an old one (CI images often carry one next to Node 24).
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => p !== process.execPath && nodeMajor(p) < 24);
  test(
    'an old Node running the CLI or npm run dev gets that line and exit 1',
    { skip: oldNode ? false : 'no Node older than 24 on this machine' },
    async () => {
      const path = `${dirname(oldNode!)}${delimiter}${process.env.PATH}`;
      const results = await Promise.all([run(oldNode!, [BIN, '--help'], { PATH: path }), run('npm', ['run', '-s', 'dev'], { PATH: path })]);
      for (const r of results) {
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^drover needs Node\.js 24 or newer; this is v\d+\.[^\n]*\n$/);
      }
    },
  );
});

function nodeMajor(node: string): number {
  // Synchronous on purpose: whether to skip is decided while the tests are declared.
  try {
    return Number(execFileSync(node, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim());
  } catch {
    return Infinity;
  }
}
