import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freePort } from '../../stack/temporal-server.js';
import { progressQuery } from '../../workflows/definitions.js';
import { useStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'money-metrics-token-0123456789abcdef';
const MODEL = 'gpt-4.1-mini';
// A token costs 3.75e-8 dollars on the batch path (half of 0.075 per million): sums of such
// figures in binary floating point show noise (0.30000000000000004) and odd token counts need
// more than nine decimals until each call is rounded to the nano-dollar.
const PRICES = { input_per_mtok: 0.075, output_per_mtok: 0.3 };
const SCHEMA = {
  type: 'json_schema',
  json_schema: {
    name: 'label',
    schema: { type: 'object', properties: { label: { type: 'string' } }, required: ['label'], additionalProperties: false },
  },
};
const items = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, content: `ticket ${i} ${'word '.repeat((i * 7) % 23)}` }));

/**
 * A dollar figure as printed (JSON, CSV, Prometheus text) in exact nano-dollars: throws when it
 * is not a whole number of nano-dollars, which is what float noise (0.30000000000000004) or an
 * unrounded cost (7.875e-7) would be. BigInt, so the test's own sums are exact too.
 */
function nanos(text: string): bigint {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(text);
  assert.ok(m, `a plain decimal: ${text}`);
  const digits = m[1]! + (m[2] ?? '');
  const shift = 9 + Number(m[3] ?? 0) - (m[2] ?? '').length;
  if (shift >= 0) return BigInt(digits) * 10n ** BigInt(shift);
  const cut = digits.length + shift;
  assert.match(digits.slice(Math.max(cut, 0)), /^0*$/, `${text} has more than nine decimals`);
  return BigInt(digits.slice(0, Math.max(cut, 0)) || '0');
}

/** Every number a JSON text gives a `*_usd` field, as printed. */
function usdFields(json: string): Array<[string, string]> {
  return [...json.matchAll(/"(\w*usd)":(-?[\d.eE+-]+)/g)].map((m) => [m[1]!, m[2]!]);
}

function assertClean(json: string, where: string): void {
  const fields = usdFields(json);
  for (const [k, v] of fields) {
    assert.doesNotMatch(v, /\.\d{10,}/, `${where}: ${k} ${v}`);
    nanos(v);
  }
}

/** RFC 4180 records of a whole CSV text. */
function csvRecords(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') ((cell += '"'), i++);
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (row.push(cell), (cell = ''));
    else if (c === '\n') (row.push(cell.replace(/\r$/, '')), rows.push(row), (row = []), (cell = ''));
    else cell += c;
  }
  return rows;
}

async function metricText(url: string): Promise<string> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  return res.text();
}

/** The raw JSON text of the batch's DroverCostUsd search attribute. */
async function costAttribute(stack: TestStack, id: string): Promise<string> {
  const d = await stack.client.workflow.getHandle(id).describe();
  const data = d.raw.workflowExecutionInfo?.searchAttributes?.indexedFields?.DroverCostUsd?.data;
  assert.ok(data, 'DroverCostUsd is set');
  return Buffer.from(data).toString('utf8');
}

/** Failed checks, gathered so one run names every place that shows noise, not only the first. */
const problems: string[] = [];
function soft(check: () => void): void {
  try {
    check();
  } catch (err) {
    problems.push((err as Error).message.split('\n')[0]!);
  }
}

/** `nanos`, noting a figure that is not exact instead of stopping at it. */
function exact(text: string, where: string): bigint {
  try {
    return nanos(text);
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message.split('\n')[0]}`);
    return BigInt(Math.round(Number(text) * 1e9));
  }
}

describe('money is kept without float noise', () => {
  const stack = useStack({ processingMs: 150 });

  test('every cost shown, stored and counted is whole nano-dollars, and they all add up exactly', async () => {
    const port = await freePort();
    await stack.startWorker({ DROVER_METRICS_PORT: String(port), DROVER_METRICS_TOKEN: TOKEN });
    const metricsUrl = `http://127.0.0.1:${port}/metrics`;

    // Batch path with paid answers that fail validation (retried: the item's cost is both
    // attempts') and lines that fail with a 500 (resent); several chunks and a cost limit, so
    // reservations and attempt reports add up in the workflow.
    stack.emulator.setFaults({ malformed_json: { every: 6, once: true }, line_errors: { every: 11, status: 500 } });
    const a = await stack.post('/v1/batches', {
      model: MODEL,
      prices: PRICES,
      mode: 'batch',
      chunk_size: 60,
      max_parallel_chunks: 2,
      max_attempts: 2,
      max_cost_usd: 5,
      response_format: SCHEMA,
      items: items(300, 'a'),
    });
    assert.equal(a.status, 202, a.text);
    // Seen while it runs: the progress query, the batch, the list.
    const shown: Array<[string, string]> = [];
    const handle = stack.client.workflow.getHandle(a.body.id);
    const doneA = await until(
      async () => {
        const progress = await handle.query(progressQuery).catch(() => null);
        if (progress) shown.push(['progress query', JSON.stringify(progress)]);
        const one = await stack.get(`/v1/batches/${a.body.id}`);
        shown.push(['GET batch (running)', one.text]);
        shown.push(['GET list (running)', (await stack.get('/v1/batches?limit=10')).text]);
        return one.body;
      },
      (b) => ['completed', 'completed_with_failures'].includes(b.status),
      { what: 'batch a to end', timeoutMs: 90_000, intervalMs: 250 },
    );
    assert.ok(doneA.counts.succeeded > 250, JSON.stringify(doneA.counts));

    // Realtime, full price, one attempt: broken answers fail and are paid for.
    stack.emulator.setFaults({ malformed_json: { every: 4, once: false } });
    const b = await stack.post('/v1/batches', {
      model: MODEL,
      prices: PRICES,
      mode: 'realtime',
      max_attempts: 1,
      response_format: SCHEMA,
      items: items(40, 'b'),
    });
    assert.equal(b.status, 202, b.text);
    const doneB = await stack.waitForBatch(b.body.id, 60_000);
    stack.emulator.setFaults({});
    assert.equal(doneB.status, 'completed_with_failures', JSON.stringify(doneB.counts));

    let total = 0n;
    for (const batch of [doneA, doneB]) {
      const id = batch.id;
      const one = await stack.get(`/v1/batches/${id}`);
      soft(() => assertClean(one.text, `GET /v1/batches/${id}`));
      const spent = exact(String(one.body.cost.spent_usd), 'spent_usd');
      const jsonl = await stack.get(`/v1/batches/${id}/results?format=jsonl`);
      soft(() => assertClean(jsonl.text, 'JSONL'));
      const byId = new Map<string, bigint>();
      for (const [k, v] of usdFields(jsonl.text)) assert.equal(k, 'cost_usd');
      for (const line of jsonl.text.trim().split('\n')) {
        const row = JSON.parse(line) as { id: string };
        byId.set(row.id, exact(/"cost_usd":([^,}]+)/.exec(line)![1]!, 'JSONL cost_usd'));
      }
      assert.equal(byId.size, batch.counts.total);
      const sum = [...byId.values()].reduce((x, y) => x + y, 0n);
      soft(() => assert.equal(sum, spent, `${id}: the results' costs add up to the spend exactly`));
      assert.ok(spent > 0n);

      const page = await stack.get(`/v1/batches/${id}/results?format=json&limit=1000`);
      soft(() => assertClean(page.text, 'JSON page'));

      const csv = csvRecords((await stack.get(`/v1/batches/${id}/results?format=csv`)).text);
      const col = csv[0]!.indexOf('cost_usd');
      assert.ok(col >= 0);
      soft(() => {
        for (const row of csv.slice(1)) {
          assert.doesNotMatch(row[col]!, /e|\.\d{10,}/, `CSV cost ${row[col]}`);
          assert.equal(nanos(row[col]!), byId.get(row[0]!), `CSV ${row[0]}`);
        }
      });

      const attribute = await costAttribute(stack, id);
      soft(() => assert.equal(exact(attribute, 'DroverCostUsd'), spent, `DroverCostUsd ${attribute}`));
      const progress = JSON.stringify(await stack.client.workflow.getHandle(id).query(progressQuery));
      soft(() => assertClean(progress, 'progress query (ended)'));
      const p = JSON.parse(progress);
      soft(() => assert.equal(nanos(String(p.costUsd)), spent, 'progress costUsd'));
      soft(() => assert.equal(nanos(String(p.cost.spentUsd)), spent, 'progress spentUsd'));
      total += spent;
    }
    const list = await stack.get('/v1/batches?limit=10');
    soft(() => assertClean(list.text, 'GET list'));
    for (const [where, text] of shown) soft(() => assertClean(text, where));
    assert.ok(
      shown.some(([w]) => w === 'progress query'),
      'the progress query answered while the batch ran',
    );

    // The counter is set from an integer total: it prints the exact sum of the batches' spend.
    const line = (await metricText(metricsUrl)).split('\n').find((l) => l.startsWith('drover_cost_usd_total{'));
    assert.ok(line, 'drover_cost_usd_total');
    const counter = line.split(' ').at(-1)!;
    soft(() => assert.doesNotMatch(counter, /\.\d{10,}/, line));
    soft(() => assert.equal(exact(counter, 'drover_cost_usd_total'), total, `the counter ${counter} is the batches' spend`));
    assert.deepEqual([...new Set(problems)], []);
  });
});
