// The monitoring files in deploy/ (Prometheus alert rules and configuration, the Grafana
// dashboard) against Drover's own metrics: every drover_* name they query is one Drover exports,
// with labels it sets. With promtool installed (apt-get install prometheus) the rules, their unit
// tests and the configuration are also checked by Prometheus itself.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { registerBatchGauges } from '../../metrics/batch-gauges.js';
import { DroverMetrics } from '../../metrics/drover-metrics.js';
import type { Db } from '../../store/db.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const ALERTS = join(DEPLOY, 'prometheus/alerts.yml');
const DASHBOARD = join(DEPLOY, 'grafana/drover.json');

/** Drover's metric names and label names, as its registries declare them (no store is read). */
function droverMetrics(): Map<string, Set<string>> {
  const metrics = new DroverMetrics({ processMetrics: false });
  registerBatchGauges(metrics.registry, { db: {} as Db, logger: pino({ level: 'silent' }) });
  const out = new Map<string, Set<string>>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const labels = new Set<string>((m as unknown as { labelNames: string[] }).labelNames);
    out.set(m.name, labels);
  }
  return out;
}

/** `drover_…` names an expression uses, with the label names it matches or groups on (suffixes of histograms removed). */
function droverRefs(expr: string): Array<{ name: string; labels: string[] }> {
  return [...expr.matchAll(/\b(drover_[a-z_]+)(\{([^}]*)\})?/g)].map((m) => ({
    name: m[1]!.replace(/_(bucket|count|sum)$/, ''),
    labels: [...(m[3] ?? '').matchAll(/(\w+)\s*(=~|!=|!~|=)/g)].map((l) => l[1]!),
  }));
}

function assertKnown(expr: string, known: Map<string, Set<string>>, where: string) {
  for (const ref of droverRefs(expr)) {
    const labels = known.get(ref.name) ?? known.get(ref.name.replace(/_bucket$|_count$|_sum$/, ''));
    assert.ok(labels, `${where}: ${ref.name} is not a metric Drover exports`);
    for (const l of ref.labels) assert.ok(labels.has(l) || l === 'le', `${where}: ${ref.name} has no label ${l}`);
  }
  const by = [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
  const all = new Set([...known.values()].flatMap((s) => [...s]));
  for (const l of by) assert.ok(all.has(l) || ['le', 'instance', 'job', 'task_queue', 'worker_type'].includes(l), `${where}: by (${l})`);
}

test('the alert rules are well formed, cover the four cases, and query only metrics Drover exports', () => {
  const doc = parse(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> };
  const known = droverMetrics();
  // drover_temporal_metrics_up is written into the exposition by hand (metrics/exposition.ts).
  known.set('drover_temporal_metrics_up', new Set());
  const rules = doc.groups.flatMap((g) => g.rules);
  assert.ok(rules.length >= 4);
  for (const r of rules) {
    assert.match(r.alert, /^Drover[A-Za-z]+$/);
    assert.equal(typeof r.expr, 'string');
    assert.match(r.for, /^\d+[smh]$/);
    assert.ok(['info', 'warning', 'critical'].includes(r.labels?.severity), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary && r.annotations?.description, `${r.alert}: summary and description`);
    assertKnown(r.expr, known, r.alert);
  }
  const exprOf = (name: string) => rules.find((r) => r.alert === name)?.expr ?? '';
  assert.match(exprOf('DroverBatchStalled'), /drover_batch_max_idle_seconds/, 'a batch with no progress');
  assert.match(exprOf('DroverRealtimeBatchStalled'), /drover_batch_max_idle_seconds/);
  assert.match(exprOf('DroverOrphanedProviderBatches'), /drover_provider_batches_unclaimed/, 'orphaned provider batches');
  assert.match(exprOf('DroverProviderErrorRate'), /drover_provider_errors_total/, 'error rate');
  assert.match(exprOf('DroverBatchesAwaitingBudget'), /awaiting_budget/, 'batches waiting for budget');
});

test('the Grafana dashboard parses, and every panel queries metrics Drover (or the Temporal SDK) exports', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Array<Record<string, any>> };
  assert.equal(dash.uid, 'drover');
  const known = droverMetrics();
  const ids = new Set<number>();
  let queries = 0;
  for (const p of dash.panels) {
    assert.ok(!ids.has(p.id), `panel id ${p.id} once`);
    ids.add(p.id);
    if (p.type === 'row') continue;
    assert.ok(p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the grid`);
    for (const t of p.targets) {
      queries++;
      assert.equal(t.datasource.uid, '${datasource}', `${p.title}: uses the dashboard's data source`);
      assertKnown(t.expr, known, p.title);
    }
  }
  assert.ok(queries >= 15);
});

const promtool = spawnSync('promtool', ['--version']).status === 0;

test('promtool accepts the rules, their unit tests and the configuration', { skip: !promtool && 'promtool is not installed' }, () => {
  const run = (...args: string[]) => execFileSync('promtool', args, { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8' });
  assert.match(run('check', 'rules', 'alerts.yml'), /SUCCESS: \d+ rules found/);
  assert.match(run('test', 'rules', 'alerts.test.yml'), /SUCCESS/);
  assert.match(run('check', 'config', 'prometheus.yml'), /SUCCESS/);
});
