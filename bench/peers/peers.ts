/**
 * Drover beside batchata and Bespoke Curator, on the same emulator, the same classify workload
 * (model, prompts, JSON schema: bench/peers/workload.py) and instant batch processing:
 *
 *   npm run bench:peers -- --items 10000,100000 --timeout-min 20 [--repeat 3] [--tools batchata,curator,drover]
 *
 * The peers are installed into virtualenvs under .tools/peers/ (exact versions from
 * bench/peers/requirements-*.txt) and run as Python processes (bench/peers/*_run.py) against the
 * emulator's OpenAI Files and Batch API; Drover runs through its own API on a real Temporal dev
 * server and PostgreSQL (bench/bench-stack.ts), its time including the JSONL export of every
 * result. A tool that does not finish within --timeout-min is killed and shown as "> T", its
 * ratio as a lower bound. --repeat applies to sizes up to 10,000 (medians); larger sizes run once.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchStack, type BenchStack } from '../bench-stack.js';
import { runDrover, type Workload } from './drover-run.js';
import { runPeer } from './python-run.js';
import { formatTable, median, speedup, TOOLS, type Measurement, type Tool } from './report.js';
import { ensureVenv, type PeerTool } from './venvs.js';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '10000,100000' },
    'timeout-min': { type: 'string', default: '20' },
    repeat: { type: 'string', default: '1' },
    tools: { type: 'string', default: TOOLS.join(',') },
    'chunk-size': { type: 'string', default: '10000' },
    parallel: { type: 'string', default: '10' },
    'poll-s': { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const SIZES = args.items.split(',').map(Number);
const TIMEOUT_MS = Number(args['timeout-min']) * 60_000;
const REPEAT = Number(args.repeat);
const CHUNK = Number(args['chunk-size']);
const PARALLEL = Number(args.parallel);
const POLL_S = Number(args['poll-s']);
const SELECTED = args.tools.split(',') as Tool[];
for (const t of SELECTED) if (!TOOLS.includes(t)) throw new Error(`unknown tool ${t}; one of ${TOOLS.join(', ')}`);

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = join(REPO_ROOT, 'bench', 'peers');
/** Each peer's full output, kept after the run (git-ignored). */
const LOG_DIR = join(REPO_ROOT, '.data', 'bench-peers');
const log = (line: string): void => console.log(line);
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

interface RunOutcome {
  seconds?: number;
  timedOut: boolean;
  peakMb: number;
  succeeded?: number;
  detail: string;
}

async function runPeerTool(tool: PeerTool, python: string, stack: BenchStack, items: number, scratch: string): Promise<RunOutcome> {
  const out = join(scratch, `${tool}-${items}-${Date.now()}`);
  const common = ['--items', String(items), '--out', out, '--poll-s', String(POLL_S)];
  const toolArgs =
    tool === 'batchata'
      ? [...common, '--items-per-batch', String(CHUNK), '--max-parallel', String(PARALLEL)]
      : [...common, '--base-url', stack.emulator.openaiBaseURL, '--batch-size', String(CHUNK)];
  const run = await runPeer({
    python,
    script: `${tool}_run.py`,
    args: toolArgs,
    cwd: HERE,
    env: {
      OPENAI_BASE_URL: stack.emulator.openaiBaseURL,
      OPENAI_API_KEY: 'bench',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      // No network here: no telemetry, no price-map download, no hub; Curator's cache in the run's directory.
      TELEMETRY_ENABLED: 'false',
      LITELLM_LOCAL_MODEL_COST_MAP: 'True',
      HF_HUB_OFFLINE: '1',
      HF_HOME: join(scratch, 'hf'),
      CURATOR_CACHE_DIR: out,
      CURATOR_DISABLE_RICH_DISPLAY: '1',
    },
    timeoutMs: TIMEOUT_MS,
    logPath: join(LOG_DIR, `${tool}-${items}-${Date.now()}.log`),
  });
  await rm(out, { recursive: true, force: true });
  if (run.timedOut) return { timedOut: true, peakMb: run.peakMb, detail: `killed after ${run.processSeconds.toFixed(0)} s` };
  if (!run.result) throw new Error(`${tool} exited ${run.exitCode} without a RESULT line; see its log in ${LOG_DIR}`);
  return {
    seconds: run.result.seconds,
    timedOut: false,
    peakMb: run.peakMb,
    succeeded: run.result.succeeded,
    detail: `process ${run.processSeconds.toFixed(1)} s with imports`,
  };
}

async function runDroverTool(stack: BenchStack, workload: Workload, items: number, scratch: string): Promise<RunOutcome> {
  const exportPath = join(scratch, `drover-${items}-${Date.now()}.jsonl`);
  const run = await runDrover(stack, { items, workload, chunkSize: CHUNK, parallel: PARALLEL, timeoutMs: TIMEOUT_MS, exportPath });
  await rm(exportPath, { force: true });
  const peakMb = run.peakMb.worker + run.peakMb.api;
  const split = `worker ${run.peakMb.worker.toFixed(0)} + API ${run.peakMb.api.toFixed(0)} MB`;
  if (run.timedOut) return { timedOut: true, peakMb, detail: split };
  return {
    seconds: run.seconds,
    timedOut: false,
    peakMb,
    succeeded: run.succeeded,
    detail: `intake ${run.intakeSeconds!.toFixed(1)} s, export ${run.exportSeconds!.toFixed(1)} s; ${split}`,
  };
}

async function main(): Promise<void> {
  const peers = SELECTED.filter((t): t is PeerTool => t !== 'drover');
  const pythons = new Map<PeerTool, string>();
  for (const tool of peers) pythons.set(tool, await ensureVenv(REPO_ROOT, tool, log));
  const workloadPython = pythons.values().next().value ?? 'python3';
  const workload = JSON.parse(execFileSync(workloadPython, ['workload.py'], { cwd: HERE, encoding: 'utf8' })) as Workload;
  const versions = [
    `drover ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()}`,
    ...peers.map((t) => {
      const pkg = t === 'curator' ? 'bespokelabs-curator' : 'batchata';
      const pin = readFileSync(join(HERE, `requirements-${t}.txt`), 'utf8').match(new RegExp(`^${pkg}==(\\S+)`, 'm'))?.[1];
      return `${pkg} ${pin}`;
    }),
    ...(pythons.size ? [execFileSync(workloadPython, ['--version'], { encoding: 'utf8' }).trim()] : []),
    `node ${process.version}`,
  ];
  log(
    `peers bench: ${SIZES.map((n) => n.toLocaleString('en-US')).join(' and ')} items; ${SELECTED.join(', ')}; timeout ${args['timeout-min']} min`,
  );
  log(`versions: ${versions.join(', ')}`);
  log(`workload: ${workload.model}, schema ${JSON.stringify(workload.schema)}`);
  log(
    `settings: ${CHUNK.toLocaleString('en-US')} items per provider batch and ${PARALLEL} in parallel for all three; ` +
      `peers poll every ${POLL_S} s, Drover 250 ms doubling to 2 s`,
  );

  const scratch = mkdtempSync(join(tmpdir(), 'drover-peers-'));
  mkdirSync(LOG_DIR, { recursive: true });
  log(`logs: ${LOG_DIR}`);
  const stack = await startBenchStack({
    name: 'peers',
    processingMs: 0,
    apiEnv: { DROVER_POLL_INITIAL_MS: '250', DROVER_POLL_MAX_MS: '2000' },
  });
  const measurements: Measurement[] = [];
  try {
    for (const items of SIZES) {
      const repeat = items <= 10_000 ? REPEAT : 1;
      const outcomes = new Map<Tool, RunOutcome[]>(SELECTED.map((t) => [t, []]));
      for (let r = 0; r < repeat; r++) {
        for (const tool of SELECTED) {
          stack.emulator.reset();
          const before = load();
          const o =
            tool === 'drover'
              ? await runDroverTool(stack, workload, items, scratch)
              : await runPeerTool(tool, pythons.get(tool)!, stack, items, scratch);
          outcomes.get(tool)!.push(o);
          const wall = o.seconds !== undefined ? `${o.seconds.toFixed(1)} s` : `> ${args['timeout-min']} min`;
          log(
            `  ${items.toLocaleString('en-US')} ${tool} run ${r + 1}: ${wall}, ${o.succeeded ?? 0} ok, peak ${o.peakMb.toFixed(0)} MB ` +
              `(${o.detail}); load ${before} → ${load()}`,
          );
        }
      }
      for (const tool of SELECTED) {
        const os = outcomes.get(tool)!;
        const done = os.filter((o) => o.seconds !== undefined);
        const wrong = done.filter((o) => o.succeeded !== items).length;
        const m: Measurement = {
          tool,
          items,
          runs: done.map((o) => o.seconds!),
          peakMb: Math.max(...os.map((o) => o.peakMb)),
          ...(done.length === os.length ? { seconds: median(done.map((o) => o.seconds!)) } : { timedOutAfter: TIMEOUT_MS / 1000 }),
          ...(done.length ? { succeeded: done.at(-1)!.succeeded } : {}),
        };
        const notes = [...(wrong ? [`${wrong} run(s) with fewer than ${items} right results`] : []), (done.at(-1) ?? os.at(-1)!).detail];
        m.note = notes.join('; ');
        measurements.push(m);
      }
    }
  } finally {
    await stack.stop();
    await rm(scratch, { recursive: true, force: true });
  }

  log('');
  log(formatTable(measurements));
  log('');
  for (const items of SIZES) {
    const drover = measurements.find((m) => m.tool === 'drover' && m.items === items);
    if (!drover) continue;
    for (const m of measurements.filter((x) => x.items === items && x.tool !== 'drover')) {
      const r = speedup(m, drover);
      if (r)
        log(
          `${items.toLocaleString('en-US')} items: Drover ${r.lowerBound ? 'more than ' : ''}${r.value.toFixed(1)}× faster than ${m.tool}`,
        );
    }
  }
  log(`load average at the end: ${load()} (2 cores)`);
  if (args.json) await writeFile(args.json, JSON.stringify({ versions, workload, measurements }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
