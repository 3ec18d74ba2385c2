// The Kubernetes manifests in deploy/k8s/, checked offline: every document against the
// Kubernetes OpenAPI schemas (kubernetes-models validates types, enums and required fields as
// the API server would), then what Drover needs of them: probes that reflect real polling,
// resources, secrets by reference only, and env names the apps read.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { parseAllDocuments } from 'yaml';
import { ApiEnv } from '../../api/config.js';
import { WorkerEnv } from '../../workers/config.js';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'k8s');

interface Doc {
  file: string;
  body: Record<string, any>;
}

const docs: Doc[] = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], `${file} parses`);
      return { file, body: d.toJS() as Record<string, any> };
    }),
  );

/** The kinds the manifests use, each validated against its schema. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
};

const byKindName = (kind: string, name: string) => docs.find((d) => d.body.kind === kind && d.body.metadata?.name === name)?.body;
const deployments = () => docs.filter((d) => d.body.kind === 'Deployment').map((d) => d.body);
const containerOf = (deployment: Record<string, any>): IContainer => deployment.spec.template.spec.containers[0];

test('every manifest document is a valid Kubernetes object', () => {
  assert.ok(docs.length >= 6, `${docs.length} documents`);
  for (const { file, body } of docs) {
    const Model = MODELS[`${body.apiVersion}/${body.kind}`];
    assert.ok(Model, `${file}: ${body.apiVersion} ${body.kind} is not a kind this test knows`);
    assert.doesNotThrow(() => new Model(body).validate(), `${file}: ${body.kind} ${body.metadata?.name}`);
  }
});

test('the schema check can fail: a broken Deployment is refused', () => {
  const api = structuredClone(byKindName('Deployment', 'drover-api')!);
  api.spec.replicas = 'two';
  assert.throws(() => new Deployment(api).validate());
  const noSelector = structuredClone(byKindName('Deployment', 'drover-api')!);
  delete noSelector.spec.selector;
  assert.throws(() => new Deployment(noSelector).validate());
  const badProbe = structuredClone(byKindName('Deployment', 'drover-worker')!);
  containerOf(badProbe).livenessProbe!.periodSeconds = '15s' as unknown as number;
  assert.throws(() => new Deployment(badProbe).validate());
});

test('each Deployment selects its own pods, sets resources, runs as non-root and reads the ConfigMap', () => {
  const config = byKindName('ConfigMap', 'drover-config');
  assert.ok(config);
  for (const d of deployments()) {
    const name = d.metadata.name;
    const labels = d.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) assert.equal(labels[k], v, `${name}: the selector matches its pods`);
    const c = containerOf(d);
    assert.ok(c.resources?.requests?.['cpu'] && c.resources.requests['memory'], `${name}: CPU and memory requests`);
    assert.ok(c.resources?.limits?.['memory'], `${name}: a memory limit`);
    assert.equal(d.spec.template.spec.securityContext?.runAsNonRoot, true, `${name}: non-root`);
    assert.ok(
      c.envFrom?.some((e) => e.configMapRef?.name === 'drover-config'),
      `${name}: the non-secret settings come from the ConfigMap`,
    );
    // A read-only root needs a writable /tmp (the worker's health file, uploads in flight).
    if (c.securityContext?.readOnlyRootFilesystem)
      assert.ok(
        c.volumeMounts?.some((m) => m.mountPath === '/tmp'),
        `${name}: /tmp`,
      );
  }
});

test('secrets only by secretKeyRef, never as literal values, and every secret the apps need is referenced', () => {
  const SECRET = /(DATABASE_URL|_KEY|_KEYS|PASSWORD|TOKEN)$/;
  const needs: Record<string, string[]> = {
    'drover-api': ['DATABASE_URL', 'DROVER_ADMIN_KEY', 'DROVER_SECRET_KEY', 'DROVER_ENCRYPTION_KEYS'],
    'drover-worker': [
      'DATABASE_URL',
      'DROVER_SECRET_KEY',
      'DROVER_ENCRYPTION_KEYS',
      'OPENAI_API_KEY',
      'ANTHROPIC_API_KEY',
      'GEMINI_API_KEY',
    ],
  };
  for (const d of deployments()) {
    const env = containerOf(d).env ?? [];
    for (const e of env) {
      if (SECRET.test(e.name)) {
        assert.equal(e.value, undefined, `${d.metadata.name}: ${e.name} must not be a literal`);
        assert.equal(e.valueFrom?.secretKeyRef?.name, 'drover-secrets', `${d.metadata.name}: ${e.name} from the Secret`);
        assert.equal(e.valueFrom.secretKeyRef.key, e.name);
      }
    }
    for (const name of needs[d.metadata.name] ?? []) {
      assert.ok(
        env.some((e) => e.name === name && e.valueFrom?.secretKeyRef),
        `${d.metadata.name}: ${name} by secretKeyRef`,
      );
    }
  }
  const config = byKindName('ConfigMap', 'drover-config')!;
  for (const key of Object.keys(config.data)) assert.doesNotMatch(key, SECRET, `the ConfigMap holds no secret (${key})`);
  const example = byKindName('Secret', 'drover-secrets')!;
  for (const [k, v] of Object.entries(example.stringData as Record<string, string>)) assert.equal(v, 'REPLACE_ME', `example ${k}`);
});

test('the API: a Service on its port, probes on /healthz, listening beyond loopback', () => {
  const api = byKindName('Deployment', 'drover-api')!;
  const c = containerOf(api);
  const port = c.ports?.find((p) => p.name === 'http');
  assert.equal(port?.containerPort, 3000);
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env['HOST'], '0.0.0.0');
  assert.equal(Number(env['PORT']), port?.containerPort);
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    assert.equal(probe?.httpGet?.path, '/healthz');
    assert.ok(probe?.httpGet?.port === 'http' || probe?.httpGet?.port === 3000);
  }
  assert.deepEqual(c.command, ['node', 'dist/api/server.js']);
  const svc = byKindName('Service', 'drover-api')!;
  for (const [k, v] of Object.entries(svc.spec.selector))
    assert.equal(api.spec.template.metadata.labels[k], v, 'the Service selects the API pods');
  assert.ok(svc.spec.ports.some((p: any) => p.targetPort === 'http' || p.targetPort === 3000));
});

test('the workers: probes on the health file the worker touches only while polling, roles the worker knows', () => {
  const workers = deployments().filter((d) => containerOf(d).command?.includes('dist/workers/main.js'));
  assert.deepEqual(workers.map((w) => w.metadata.name).sort(), ['drover-worker', 'drover-worker-realtime']);
  for (const w of workers) {
    const c = containerOf(w);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    assert.ok(env['DROVER_HEALTH_FILE'], `${w.metadata.name}: DROVER_HEALTH_FILE is set`);
    const every = Number(env['DROVER_HEALTH_EVERY_MS'] ?? 10_000);
    for (const probe of [c.startupProbe, c.livenessProbe]) {
      const cmd = probe?.exec?.command?.join(' ') ?? '';
      assert.match(cmd, /DROVER_HEALTH_FILE/, `${w.metadata.name}: the probe reads the health file`);
      assert.match(cmd, /mtime/, `${w.metadata.name}: the probe checks the file's age`);
      const window = Number(/<\s*(\d+)/.exec(cmd)?.[1]);
      assert.ok(window >= 2 * every && window <= 5 * every, `${w.metadata.name}: a ${window} ms window for beats every ${every} ms`);
    }
    assert.ok((w.spec.template.spec.terminationGracePeriodSeconds ?? 30) >= 15, 'time to drain (shutdownGraceTime 10 s)');
    // The worker's own config accepts what the manifests set (with a provider, as the Secret gives one).
    const config = byKindName('ConfigMap', 'drover-config')!.data as Record<string, string>;
    const parsed = WorkerEnv.safeParse({ ...config, ...env, DATABASE_URL: 'postgres://x@y/z', OPENAI_API_KEY: 'sk-x' });
    assert.ok(parsed.success, `${w.metadata.name}: ${parsed.error?.message}`);
  }
  assert.equal(containerOf(byKindName('Deployment', 'drover-worker')!).env?.find((e) => e.name === 'DROVER_WORKER_ROLE')?.value, 'all');
  const api = containerOf(byKindName('Deployment', 'drover-api')!);
  const apiEnv = Object.fromEntries((api.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
  const config = byKindName('ConfigMap', 'drover-config')!.data as Record<string, string>;
  const parsed = ApiEnv.safeParse({ ...config, ...apiEnv, DATABASE_URL: 'postgres://x@y/z', DROVER_ADMIN_KEY: `drv_${'a'.repeat(48)}` });
  assert.ok(parsed.success, `the API accepts the settings: ${parsed.error?.message}`);
});
