// Structural checks of the production-like deployment files (docker-compose.yml,
// Dockerfile, .dockerignore, deploy/). There is no Docker engine where the tests
// run, so instead of starting the stack this verifies that the pieces fit
// together: services wired to each other's names and ports, health conditions,
// secrets only from the environment, and every `dist/*.js` entry point backed by
// a TypeScript source file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const DOCKERFILE = path.join(ROOT, 'Dockerfile');

// ---------------------------------------------------------------------------
// Compose variable interpolation (${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?msg},
// ${VAR?msg}, ${VAR:+x}, ${VAR+x}, $VAR, $$), as `docker compose config` does.

type Env = Readonly<Record<string, string | undefined>>;

class MissingVariableError extends Error {}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*/;

function interpolate(input: string, env: Env): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input.charAt(i);
    if (ch !== '$') {
      out += ch;
      i += 1;
      continue;
    }
    const next = input.charAt(i + 1);
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      let depth = 1;
      let j = i + 2;
      while (j < input.length && depth > 0) {
        if (input.charAt(j) === '$' && input.charAt(j + 1) === '{') {
          depth += 1;
          j += 2;
          continue;
        }
        if (input.charAt(j) === '}') depth -= 1;
        j += 1;
      }
      if (depth !== 0) throw new Error(`unterminated \${ in ${JSON.stringify(input)}`);
      out += expand(input.slice(i + 2, j - 1), env);
      i = j;
      continue;
    }
    const name = NAME_RE.exec(input.slice(i + 1))?.[0];
    if (name !== undefined) {
      out += env[name] ?? '';
      i += 1 + name.length;
      continue;
    }
    out += '$';
    i += 1;
  }
  return out;
}

function expand(body: string, env: Env): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  const name = m?.[1];
  if (m === null || name === undefined) throw new Error(`invalid interpolation \${${body}}`);
  const op = m[2];
  const arg = m[3] ?? '';
  const value = env[name];
  const unsetOrEmpty = value === undefined || value === '';
  switch (op) {
    case undefined:
      return value ?? '';
    case ':-':
      return unsetOrEmpty ? interpolate(arg, env) : value;
    case '-':
      return value === undefined ? interpolate(arg, env) : value;
    case ':?':
      if (unsetOrEmpty) throw new MissingVariableError(`${name}: ${arg}`);
      return value;
    case '?':
      if (value === undefined) throw new MissingVariableError(`${name}: ${arg}`);
      return value;
    case ':+':
      return unsetOrEmpty ? '' : interpolate(arg, env);
    case '+':
      return value === undefined ? '' : interpolate(arg, env);
    default:
      throw new Error(`unsupported interpolation operator ${op} in \${${body}}`);
  }
}

function resolveDeep(value: unknown, env: Env): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, env));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(v, env)]));
  }
  return value;
}

interface Interpolation {
  name: string;
  op: string | undefined;
  arg: string;
}

function interpolationsIn(text: string): Interpolation[] {
  const found: Interpolation[] = [];
  for (const m of text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g)) {
    found.push({ name: m[1] ?? '', op: m[2], arg: m[3] ?? '' });
  }
  return found;
}

// ---------------------------------------------------------------------------
// Compose model helpers (short and long syntax).

type Dict = Record<string, unknown>;

function isRecord(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRecord(value: unknown, what: string): Dict {
  assert.ok(isRecord(value), `${what} must be a mapping`);
  return value;
}

function envOf(svc: Dict): Record<string, string | null> {
  const env = svc['environment'];
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    const out: Record<string, string | null> = {};
    for (const entry of env) {
      const s = String(entry);
      const eq = s.indexOf('=');
      if (eq === -1) out[s] = null;
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    }
    return out;
  }
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(asRecord(env, 'environment'))) {
    out[k] = v === null || v === undefined ? null : String(v);
  }
  return out;
}

function dependsOnOf(svc: Dict): Record<string, { condition: string; required: boolean }> {
  const deps = svc['depends_on'];
  const out: Record<string, { condition: string; required: boolean }> = {};
  if (deps === undefined) return out;
  if (Array.isArray(deps)) {
    for (const name of deps) out[String(name)] = { condition: 'service_started', required: true };
    return out;
  }
  for (const [name, spec] of Object.entries(asRecord(deps, 'depends_on'))) {
    const s = isRecord(spec) ? spec : {};
    out[name] = {
      condition: typeof s['condition'] === 'string' ? s['condition'] : 'service_started',
      required: s['required'] !== false,
    };
  }
  return out;
}

interface PortMapping {
  hostIp: string | undefined;
  published: string | undefined;
  target: string;
  protocol: string;
}

function portsOf(svc: Dict): PortMapping[] {
  const ports = svc['ports'];
  if (ports === undefined) return [];
  assert.ok(Array.isArray(ports), 'ports must be a list');
  return ports.map((p): PortMapping => {
    if (isRecord(p)) {
      return {
        hostIp: p['host_ip'] === undefined ? undefined : String(p['host_ip']),
        published: p['published'] === undefined ? undefined : String(p['published']),
        target: String(p['target']),
        protocol: p['protocol'] === undefined ? 'tcp' : String(p['protocol']),
      };
    }
    const [spec = '', protocol = 'tcp'] = String(p).split('/');
    const bracketed = /^\[([^\]]+)\]:([^:]*):([^:]+)$/.exec(spec);
    if (bracketed) {
      return { hostIp: bracketed[1], published: bracketed[2], target: bracketed[3] ?? '', protocol };
    }
    const parts = spec.split(':');
    if (parts.length === 3) return { hostIp: parts[0], published: parts[1], target: parts[2] ?? '', protocol };
    if (parts.length === 2) return { hostIp: undefined, published: parts[0], target: parts[1] ?? '', protocol };
    return { hostIp: undefined, published: undefined, target: spec, protocol };
  });
}

interface Mount {
  type: 'volume' | 'bind' | 'other';
  source: string | undefined;
  target: string;
}

function mountsOf(svc: Dict): Mount[] {
  const volumes = svc['volumes'];
  if (volumes === undefined) return [];
  assert.ok(Array.isArray(volumes), 'volumes must be a list');
  return volumes.map((v): Mount => {
    if (isRecord(v)) {
      const type = v['type'] === 'volume' || v['type'] === 'bind' ? v['type'] : 'other';
      return {
        type,
        source: v['source'] === undefined ? undefined : String(v['source']),
        target: String(v['target']),
      };
    }
    const parts = String(v).split(':');
    if (parts.length === 1) return { type: 'volume', source: undefined, target: parts[0] ?? '' };
    const source = parts[0] ?? '';
    const isPath = /^(\.|\/|~)/.test(source);
    return { type: isPath ? 'bind' : 'volume', source, target: parts[1] ?? '' };
  });
}

function commandTokens(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  return String(value).trim().split(/\s+/);
}

function healthTest(svc: Dict): string {
  const hc = svc['healthcheck'];
  if (!isRecord(hc) || hc['disable'] === true) return '';
  const t = hc['test'];
  if (Array.isArray(t)) {
    if (t[0] === 'NONE') return '';
    return t.map(String).join(' ');
  }
  return typeof t === 'string' ? t : '';
}

function hostPort(address: string): { host: string; port: string } {
  const i = address.lastIndexOf(':');
  assert.ok(i > 0, `${JSON.stringify(address)} must be host:port`);
  return { host: address.slice(0, i), port: address.slice(i + 1) };
}

// ---------------------------------------------------------------------------
// Load compose: raw (for secret checks) and resolved with test values for every
// required variable, so cross-service values can be compared.

const rawText = readFileSync(COMPOSE_FILE, 'utf8');
const rawDoc = asRecord(parse(rawText, { merge: true }), 'docker-compose.yml');
const rawServices = asRecord(rawDoc['services'], 'services');

const OPENAI_KEY_SENTINEL = 'sk-test-sentinel-from-environment';
const testEnv: Record<string, string> = { OPENAI_API_KEY: OPENAI_KEY_SENTINEL };
for (const ref of interpolationsIn(rawText)) {
  if (ref.op === '?' || ref.op === ':?') testEnv[ref.name] = `sentinel-${ref.name.toLowerCase()}`;
}

const doc = asRecord(resolveDeep(rawDoc, testEnv), 'resolved compose');
const services = asRecord(doc['services'], 'services');

function service(name: string): Dict {
  return asRecord(services[name], `service ${name}`);
}

function rawService(name: string): Dict {
  return asRecord(rawServices[name], `service ${name}`);
}

const DROVER_SERVICES = ['api', 'worker'] as const;
const REQUIRED_SERVICES = ['postgres', 'temporal', 'temporal-ui', 'api', 'worker', 'emulator'];

/** gRPC frontend port of the temporal service, as configured in its env. */
function temporalFrontendPort(): string {
  return envOf(service('temporal'))['FRONTEND_GRPC_PORT'] ?? '7233';
}

const SECRET_NAME = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)/i;

// ---------------------------------------------------------------------------
// Dockerfile model.

interface Instruction {
  keyword: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === '')) continue;
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1)} `;
      continue;
    }
    const full = (pending + trimmed).trim();
    pending = '';
    if (full === '') continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(full);
    if (m) out.push({ keyword: (m[1] ?? '').toUpperCase(), args: m[2] ?? '' });
  }
  if (pending.trim() !== '') throw new Error('Dockerfile ends inside a line continuation');
  return out;
}

interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

function substituteArgs(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a?: string, b?: string) => {
    const name = a ?? b ?? '';
    return args[name] ?? '';
  });
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'ARG' && stages.length === 0) {
      const [name = '', ...rest] = ins.args.split('=');
      globalArgs[name.trim()] = rest
        .join('=')
        .trim()
        .replace(/^"(.*)"$/, '$1');
      continue;
    }
    if (ins.keyword === 'FROM') {
      const words = substituteArgs(ins.args, globalArgs)
        .split(/\s+/)
        .filter((w) => !w.startsWith('--'));
      const asAt = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ base: words[0] ?? '', name: asAt >= 0 ? words[asAt + 1] : undefined, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

function execForm(args: string): string[] {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    assert.ok(Array.isArray(parsed), `exec form must be a JSON array: ${args}`);
    return parsed.map(String);
  }
  return trimmed.split(/\s+/);
}

const dockerfileText = readFileSync(DOCKERFILE, 'utf8');
const dockerInstructions = parseDockerfile(dockerfileText);
const dockerStages = stagesOf(dockerInstructions);
const finalStage = dockerStages.at(-1);

function finalWorkdir(): string {
  let dir = '/';
  for (const ins of finalStage?.instructions ?? []) {
    if (ins.keyword === 'WORKDIR') dir = path.posix.resolve(dir, ins.args.trim());
  }
  return dir;
}

function runCommands(): string {
  return dockerInstructions
    .filter((i) => i.keyword === 'RUN')
    .map((i) => i.args)
    .join('\n');
}

// ---------------------------------------------------------------------------
// dist/*.js -> TypeScript source, following tsconfig's rootDir/outDir.

function readJsonLoose(file: string): Dict {
  const text = readFileSync(file, 'utf8');
  try {
    return asRecord(JSON.parse(text), file);
  } catch {
    const stripped = text
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '')
      .replace(/,(\s*[}\]])/g, '$1');
    return asRecord(JSON.parse(stripped), file);
  }
}

const tsconfig = readJsonLoose(path.join(ROOT, 'tsconfig.json'));
const compilerOptions = isRecord(tsconfig['compilerOptions']) ? tsconfig['compilerOptions'] : {};
const OUT_DIR = path.posix.normalize(String(compilerOptions['outDir'] ?? 'dist')).replace(/^\.\//, '');
const ROOT_DIR = path.posix.normalize(String(compilerOptions['rootDir'] ?? '.'));
const TS_INCLUDE = Array.isArray(tsconfig['include']) ? tsconfig['include'].map(String) : undefined;

/** `dist/api/server.js` (relative, ./-prefixed or under WORKDIR) -> `api/server.ts`. */
function sourceForDistJs(token: string): string | undefined {
  const workdir = finalWorkdir();
  let rel = token.replace(/^\.\//, '');
  if (rel.startsWith(`${workdir}/`)) rel = rel.slice(workdir.length + 1);
  if (!rel.startsWith(`${OUT_DIR}/`) || !/\.(c|m)?js$/.test(rel)) return undefined;
  const inOut = rel.slice(OUT_DIR.length + 1);
  const ext = inOut.endsWith('.mjs') ? '.mts' : inOut.endsWith('.cjs') ? '.cts' : '.ts';
  return path.posix.join(ROOT_DIR, inOut.replace(/\.(c|m)?js$/, ext));
}

interface EntryPoint {
  where: string;
  js: string;
}

function entryPoints(): EntryPoint[] {
  const found: EntryPoint[] = [];
  for (const [name, svc] of Object.entries(services)) {
    if (!isRecord(svc)) continue;
    for (const key of ['entrypoint', 'command'] as const) {
      for (const token of commandTokens(svc[key])) {
        if (sourceForDistJs(token) !== undefined) found.push({ where: `service ${name} ${key}`, js: token });
      }
    }
  }
  for (const ins of finalStage?.instructions ?? []) {
    if (ins.keyword !== 'CMD' && ins.keyword !== 'ENTRYPOINT') continue;
    for (const token of execForm(ins.args)) {
      if (sourceForDistJs(token) !== undefined) found.push({ where: `Dockerfile ${ins.keyword}`, js: token });
    }
  }
  return found;
}

// ===========================================================================
// Tests

test('compose file has the required services and no obsolete top-level version', () => {
  assert.equal(rawDoc['version'], undefined, '`version` is obsolete in the Compose spec');
  for (const name of REQUIRED_SERVICES) {
    assert.ok(isRecord(services[name]), `service ${name} must be defined`);
  }
});

test('postgres: persistent named volume, pg_isready health check, required password', () => {
  const pg = service('postgres');
  const image = String(pg['image'] ?? '');
  const major = Number(/^(?:docker\.io\/(?:library\/)?)?postgres:(\d+)/.exec(image)?.[1]);
  assert.ok(major >= 12, `postgres image ${image} must be version 12+ (Temporal's postgres12 plugin)`);
  const dataDir = major >= 18 ? '/var/lib/postgresql' : '/var/lib/postgresql/data';
  const dataMount = mountsOf(pg).find((m) => m.target === dataDir);
  assert.ok(dataMount, `postgres must mount a volume at ${dataDir}`);
  assert.equal(dataMount.type, 'volume', 'postgres data must live in a named volume');
  assert.ok(dataMount.source, 'postgres data volume must be named, not anonymous');
  assert.match(healthTest(pg), /pg_isready/, 'postgres health check must use pg_isready');
  assert.throws(
    () => resolveDeep(envOf(rawService('postgres'))['POSTGRES_PASSWORD'], {}),
    MissingVariableError,
    'POSTGRES_PASSWORD must be required from the environment (${VAR:?...})',
  );
});

test('temporal persists to the postgres service in its own databases', () => {
  const temporal = service('temporal');
  const env = envOf(temporal);
  const pgEnv = envOf(service('postgres'));
  const droverDb = pgEnv['POSTGRES_DB'] ?? pgEnv['POSTGRES_USER'] ?? 'postgres';
  const image = String(temporal['image'] ?? '');
  assert.match(image, /^temporalio\/(server|auto-setup):/, 'temporal must use an official server image');
  assert.match(env['DB'] ?? '', /^postgres12(_pgx)?$/, 'temporal DB driver must be postgres12');
  assert.equal(env['POSTGRES_SEEDS'], 'postgres', 'temporal must connect to the postgres service');
  assert.equal(env['DB_PORT'] ?? '5432', '5432');
  const dbs = [env['DBNAME'] ?? 'temporal', env['VISIBILITY_DBNAME'] ?? 'temporal_visibility'];
  assert.notEqual(dbs[0], dbs[1], 'history and visibility need separate databases');
  assert.ok(!dbs.includes(droverDb), `temporal must not share Drover's database ${droverDb}`);
  assert.equal(dependsOnOf(temporal)['postgres']?.condition, 'service_healthy');

  // A dedicated role, if postgres creates one, must be the one temporal logs in with.
  const temporalUser = env['POSTGRES_USER'];
  assert.ok(temporalUser, 'temporal needs POSTGRES_USER');
  if (pgEnv['TEMPORAL_DB_USER'] !== undefined) {
    assert.equal(temporalUser, pgEnv['TEMPORAL_DB_USER']);
    assert.equal(env['POSTGRES_PWD'], pgEnv['TEMPORAL_DB_PASSWORD'], 'temporal password must match its role');
  } else {
    assert.equal(temporalUser, pgEnv['POSTGRES_USER']);
    assert.equal(env['POSTGRES_PWD'], pgEnv['POSTGRES_PASSWORD']);
  }

  if (image.startsWith('temporalio/server:')) {
    // The plain server image does not create schemas: a one-shot admin-tools
    // job against the same databases must finish first.
    const setupJobs = Object.entries(dependsOnOf(temporal))
      .filter(([, d]) => d.condition === 'service_completed_successfully')
      .map(([name]) => service(name))
      .filter((svc) => String(svc['image'] ?? '').startsWith('temporalio/admin-tools:'));
    assert.equal(setupJobs.length, 1, 'temporal must wait for exactly one admin-tools schema job');
    const job = envOf(setupJobs[0] ?? {});
    assert.equal(job['SQL_HOST'], 'postgres');
    assert.equal(job['SQL_USER'], temporalUser);
    assert.equal(job['SQL_PASSWORD'], env['POSTGRES_PWD']);
    assert.match(job['SQL_PLUGIN'] ?? '', /^postgres12(_pgx)?$/);
    assert.equal(job['TEMPORAL_DBNAME'], dbs[0]);
    assert.equal(job['TEMPORAL_VISIBILITY_DBNAME'], dbs[1]);
  }

  // The server exits when its dynamic config file is missing.
  const dcPath = env['DYNAMIC_CONFIG_FILE_PATH'];
  if (dcPath !== undefined && dcPath !== null) {
    const absolute = path.posix.resolve('/etc/temporal', dcPath);
    const mount = mountsOf(temporal).find((m) => m.type === 'bind' && absolute.startsWith(`${m.target}/`));
    assert.ok(mount?.source, `${absolute} must come from a bind mount`);
    const hostFile = path.join(ROOT, mount.source, path.posix.relative(mount.target, absolute));
    assert.ok(existsSync(hostFile), `dynamic config ${hostFile} must exist`);
  }

  const port = temporalFrontendPort();
  assert.ok(healthTest(temporal).includes(port), `temporal health check must probe port ${port}`);
});

for (const name of DROVER_SERVICES) {
  test(`${name}: built from the repo Dockerfile, wired to postgres and temporal, health-checked`, () => {
    const svc = service(name);
    const build = svc['build'];
    const context = typeof build === 'string' ? build : isRecord(build) ? String(build['context'] ?? '.') : undefined;
    assert.ok(context !== undefined, `${name} must be built, not pulled`);
    assert.equal(path.resolve(ROOT, context), ROOT, `${name} must build from the repository root`);
    const dockerfile = isRecord(build) && build['dockerfile'] !== undefined ? String(build['dockerfile']) : 'Dockerfile';
    assert.equal(path.resolve(ROOT, context, dockerfile), DOCKERFILE, `${name} must use the repo Dockerfile`);

    const env = envOf(svc);
    const pgEnv = envOf(service('postgres'));
    const url = new URL(env['DATABASE_URL'] ?? 'missing:');
    assert.match(url.protocol, /^postgres(ql)?:$/, `${name} DATABASE_URL must be a postgres URL`);
    assert.equal(url.hostname, 'postgres', `${name} DATABASE_URL must point at the postgres service`);
    assert.equal(url.port || '5432', '5432');
    assert.equal(decodeURIComponent(url.username), pgEnv['POSTGRES_USER'] ?? 'postgres');
    assert.equal(decodeURIComponent(url.password), pgEnv['POSTGRES_PASSWORD'], 'password must be the postgres one');
    assert.equal(url.pathname.slice(1), pgEnv['POSTGRES_DB'] ?? pgEnv['POSTGRES_USER'] ?? 'postgres');

    const { host, port } = hostPort(env['TEMPORAL_ADDRESS'] ?? '');
    assert.equal(host, 'temporal', `${name} TEMPORAL_ADDRESS must point at the temporal service`);
    assert.equal(port, temporalFrontendPort(), `${name} TEMPORAL_ADDRESS must use temporal's frontend port`);

    const deps = dependsOnOf(svc);
    assert.equal(deps['postgres']?.condition, 'service_healthy', `${name} must wait for a healthy postgres`);
    assert.equal(deps['temporal']?.condition, 'service_healthy', `${name} must wait for a healthy temporal`);
    assert.notEqual(healthTest(svc), '', `${name} needs a health check`);
  });
}

test('api and worker agree on namespace and task queue; a namespace job creates that namespace', () => {
  const api = envOf(service('api'));
  const worker = envOf(service('worker'));
  const namespace = worker['TEMPORAL_NAMESPACE'] ?? 'default';
  assert.equal(api['TEMPORAL_NAMESPACE'] ?? 'default', namespace);
  assert.equal(api['DROVER_TASK_QUEUE'] ?? 'drover', worker['DROVER_TASK_QUEUE'] ?? 'drover');

  if (String(service('temporal')['image'] ?? '').startsWith('temporalio/server:')) {
    // Without auto-setup nothing creates the namespace the worker registers
    // its search attributes in.
    const jobs = Object.entries(services).filter(
      ([, s]) =>
        isRecord(s) && String(s['image'] ?? '').startsWith('temporalio/admin-tools:') && envOf(s)['TEMPORAL_NAMESPACE'] !== undefined,
    );
    assert.equal(jobs.length, 1, 'exactly one admin-tools job must create the namespace');
    const [jobName = '', job = {}] = jobs[0] ?? [];
    assert.equal(envOf(asRecord(job, jobName))['TEMPORAL_NAMESPACE'], namespace);
    assert.equal(envOf(asRecord(job, jobName))['TEMPORAL_ADDRESS'], `temporal:${temporalFrontendPort()}`);
    for (const name of DROVER_SERVICES) {
      assert.equal(dependsOnOf(service(name))[jobName]?.condition, 'service_completed_successfully');
    }
  }
});

test('api publishes port 3000, listens on 0.0.0.0 and health-checks /healthz', () => {
  const api = service('api');
  const env = envOf(api);
  assert.equal(env['HOST'], '0.0.0.0', 'the app default 127.0.0.1 is unreachable from outside the container');
  const port = env['PORT'] ?? '3000';
  assert.equal(port, '3000');
  const mapping = portsOf(api).find((p) => p.target === port);
  assert.ok(mapping, 'api must publish container port 3000');
  assert.equal(mapping.published, '3000');
  assert.match(healthTest(api), new RegExp(`:${port}/healthz`));
});

test('worker: provider key from the environment only, heartbeat-file health check, prebuilt bundle', () => {
  const raw = envOf(rawService('worker'));
  assert.match(
    raw['OPENAI_API_KEY'] ?? '',
    /^\$\{OPENAI_API_KEY(:?-|:?\?[^}]*)?\}$/,
    'OPENAI_API_KEY must come from the environment with no literal default',
  );
  const env = envOf(service('worker'));
  assert.equal(env['OPENAI_API_KEY'], OPENAI_KEY_SENTINEL);
  for (const [name, svc] of Object.entries(rawServices)) {
    if (name === 'worker' || !isRecord(svc)) continue;
    assert.equal(envOf(svc)['OPENAI_API_KEY'], undefined, `only the worker needs OPENAI_API_KEY, not ${name}`);
  }
  // The worker validates OPENAI_BASE_URL as a URL when present, so with nothing
  // set it must be absent (value-less pass-through), never an empty string.
  const baseUrl = raw['OPENAI_BASE_URL'];
  if (baseUrl !== undefined && baseUrl !== null) {
    const unset = interpolate(baseUrl, {});
    assert.ok(URL.canParse(unset), `OPENAI_BASE_URL resolves to ${JSON.stringify(unset)} when unset`);
  }

  const healthFile = env['DROVER_HEALTH_FILE'];
  assert.ok(healthFile, 'worker must set DROVER_HEALTH_FILE so it writes a heartbeat');
  const probe = healthTest(service('worker'));
  assert.ok(probe.includes('DROVER_HEALTH_FILE') || probe.includes(healthFile), 'worker health check must look at the heartbeat file');
  assert.match(probe, /mtime/, 'worker health check must test the heartbeat age, not just existence');

  const bundle = env['DROVER_WORKFLOW_BUNDLE'];
  if (bundle !== undefined && bundle !== null) {
    assert.equal(bundle, path.posix.join(finalWorkdir(), OUT_DIR, 'workflow-bundle.js'));
    assert.match(runCommands(), /npm run build:workflows\b/, 'the image must contain the workflow bundle');
  }
});

test('emulator: opt-in profile, reachable from other containers, documented for the worker', () => {
  const emu = service('emulator');
  assert.ok(Array.isArray(emu['profiles']) && emu['profiles'].length > 0, 'emulator must be opt-in via a profile');
  const env = envOf(emu);
  assert.equal(env['HOST'], '0.0.0.0');
  const port = env['PORT'] ?? '4010';
  assert.match(healthTest(emu), new RegExp(`:${port}/_emulator/health`));
  assert.ok(rawText.includes(`http://emulator:${port}/v1`), 'compose must document OPENAI_BASE_URL for the emulator');
  for (const [name, svc] of Object.entries(services)) {
    if (!isRecord(svc) || svc['profiles'] !== undefined) continue;
    const dep = dependsOnOf(svc)['emulator'];
    assert.ok(dep === undefined || !dep.required, `${name} cannot hard-depend on the opt-in emulator`);
  }
});

test('no literal secrets in docker-compose.yml', () => {
  for (const [name, svc] of Object.entries(rawServices)) {
    if (!isRecord(svc)) continue;
    for (const [key, value] of Object.entries(envOf(svc))) {
      if (SECRET_NAME.test(key)) {
        assert.match(
          value ?? '',
          /^\$\{[A-Za-z_][A-Za-z0-9_]*(:?-|:?\?[^}]*)?\}$/,
          `${name}.${key} must be a bare \${VAR} reference without a default`,
        );
      }
      // Credentials embedded in URLs (postgres://user:password@host).
      const cred = /:\/\/[^:/@\s]+:([^@\s]+)@/.exec(value ?? '');
      if (cred) {
        assert.match(cred[1] ?? '', /^\$\{[^}]+\}$/, `${name}.${key} embeds a literal password`);
      }
    }
  }
  for (const ref of interpolationsIn(rawText)) {
    if (SECRET_NAME.test(ref.name) && (ref.op === '-' || ref.op === ':-')) {
      assert.equal(ref.arg, '', `\${${ref.name}} must not default to a literal value`);
    }
  }
  assert.doesNotMatch(rawText, /\bsk-[A-Za-z0-9_-]{16,}/, 'looks like an API key');
  assert.doesNotMatch(rawText, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  assert.doesNotMatch(rawText, /\bAKIA[0-9A-Z]{16}\b/);
});

test('every depends_on names a defined service with a matching health or completion contract', () => {
  for (const [name, svc] of Object.entries(services)) {
    if (!isRecord(svc)) continue;
    for (const [dep, spec] of Object.entries(dependsOnOf(svc))) {
      assert.notEqual(dep, name, `${name} depends on itself`);
      const target = services[dep];
      assert.ok(isRecord(target), `${name} depends on undefined service ${dep}`);
      assert.ok(
        ['service_started', 'service_healthy', 'service_completed_successfully'].includes(spec.condition),
        `${name} -> ${dep}: unknown condition ${spec.condition}`,
      );
      if (spec.condition === 'service_healthy') {
        assert.notEqual(healthTest(target), '', `${name} waits for ${dep} to be healthy, but ${dep} has no health check`);
      }
      if (spec.condition === 'service_completed_successfully') {
        assert.ok(
          !['always', 'unless-stopped'].includes(String(target['restart'] ?? 'no')),
          `${dep} is awaited to complete, so it must not restart forever`,
        );
      }
      if (svc['profiles'] === undefined && spec.required) {
        assert.equal(target['profiles'], undefined, `${name} always starts but ${dep} is profile-only`);
      }
    }
  }
});

test('every named volume is declared and every bind mount exists in the repo', () => {
  const declared = isRecord(doc['volumes']) ? Object.keys(doc['volumes']) : [];
  for (const [name, svc] of Object.entries(services)) {
    if (!isRecord(svc)) continue;
    for (const m of mountsOf(svc)) {
      if (m.type === 'volume' && m.source !== undefined) {
        assert.ok(declared.includes(m.source), `${name} uses undeclared volume ${m.source}`);
      }
      if (m.type === 'bind' && m.source !== undefined) {
        assert.ok(m.source.startsWith('./'), `${name} bind mount ${m.source} must be repo-relative`);
        assert.ok(existsSync(path.join(ROOT, m.source)), `${name} mounts missing ${m.source}`);
      }
    }
  }
});

test('temporal UI points at the temporal service', () => {
  const ui = service('temporal-ui');
  assert.match(String(ui['image'] ?? ''), /^temporalio\/ui:/);
  assert.equal(envOf(ui)['TEMPORAL_ADDRESS'], `temporal:${temporalFrontendPort()}`);
  assert.ok(dependsOnOf(ui)['temporal'], 'UI must start after temporal');
  assert.ok(
    portsOf(ui).some((p) => p.target === (envOf(ui)['TEMPORAL_UI_PORT'] ?? '8080')),
    'UI must be published',
  );
});

test('Dockerfile: Node >= 22 glibc base, npm ci + build + prune, production, non-root', () => {
  assert.ok(finalStage, 'Dockerfile has no FROM');
  const stageNames = new Set(dockerStages.map((s) => s.name).filter((n) => n !== undefined));
  for (const stage of dockerStages) {
    if (stageNames.has(stage.base)) continue;
    const m = /^(?:docker\.io\/)?(?:library\/)?node:([^@\s]+)/.exec(stage.base);
    assert.ok(m, `base image ${stage.base} must be the official node image`);
    const tag = m[1] ?? '';
    assert.ok(Number(/^(\d+)/.exec(tag)?.[1]) >= 22, `${stage.base}: Node 22+ required`);
    assert.doesNotMatch(tag, /alpine/, `${stage.base}: Temporal's core-bridge needs glibc, not musl`);
  }
  const runs = runCommands();
  assert.match(runs, /\bnpm ci\b/);
  assert.match(runs, /\bnpm run build(?![\w:-])/);
  assert.match(runs, /\bnpm prune\b[^\n]*--omit[= ]dev|\bnpm ci\b[^\n]*--omit[= ]dev/, 'dev dependencies must be pruned');

  const finalIns = finalStage.instructions;
  const envLines = finalIns.filter((i) => i.keyword === 'ENV').map((i) => i.args);
  assert.ok(
    envLines.some((e) => /(^|\s)NODE_ENV(=|\s+)"?production"?(\s|$)/.test(e)),
    'final stage must set NODE_ENV=production',
  );
  const user = finalIns
    .filter((i) => i.keyword === 'USER')
    .at(-1)
    ?.args.trim();
  assert.ok(user, 'final stage must switch to a non-root USER');
  assert.doesNotMatch(user, /^(root|0)(:|$)/, 'final stage must not run as root');
});

test('.dockerignore keeps host dependencies and secrets out of the build context', () => {
  const file = path.join(ROOT, '.dockerignore');
  assert.ok(existsSync(file), '.dockerignore must exist');
  const patterns = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const required of ['node_modules', '.env', '.git']) {
    assert.ok(patterns.includes(required), `.dockerignore must exclude ${required}`);
  }
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json']) {
    assert.ok(!patterns.includes(needed), `.dockerignore must not exclude ${needed}`);
  }
});

test('every npm script the Dockerfile runs is defined in package.json', () => {
  const pkg = readJsonLoose(path.join(ROOT, 'package.json'));
  const scripts = isRecord(pkg['scripts']) ? pkg['scripts'] : {};
  const used = [...runCommands().matchAll(/\bnpm run ([\w:.-]+)/g)].map((m) => m[1] ?? '');
  assert.ok(used.length > 0);
  for (const script of used) {
    assert.equal(typeof scripts[script], 'string', `package.json must define the "${script}" script`);
  }
});

const ENTRY_POINTS = entryPoints();

test('compose and Dockerfile start api, worker and emulator from dist/', () => {
  const commands = Object.fromEntries(['api', 'worker', 'emulator'].map((n) => [n, commandTokens(service(n)['command']).join(' ')]));
  assert.match(commands['api'] ?? '', new RegExp(`\\b${OUT_DIR}/api/server\\.js\\b`));
  assert.match(commands['worker'] ?? '', new RegExp(`\\b${OUT_DIR}/workers/main\\.js\\b`));
  assert.match(commands['emulator'] ?? '', new RegExp(`\\b${OUT_DIR}/emulator/main\\.js\\b`));
  assert.ok(ENTRY_POINTS.length >= 3);
});

for (const { where, js } of ENTRY_POINTS) {
  const source = sourceForDistJs(js) ?? '';
  test(`${where} runs ${js}: source ${source} exists and is compiled`, () => {
    const top = source.split('/')[0] ?? '';
    if (TS_INCLUDE !== undefined) {
      assert.ok(
        TS_INCLUDE.some((inc) => inc === top || inc.startsWith(`${top}/`) || inc === '.' || inc.startsWith('**')),
        `tsconfig include does not cover ${top}/`,
      );
    }
    assert.ok(existsSync(path.join(ROOT, source)), `${source} does not exist, so ${js} will not be built`);
  });
}

test('worker scales out: `--scale worker=N` is documented, and nothing in the service pins it to one container', () => {
  const raw = rawService('worker');
  assert.equal(raw['container_name'], undefined, 'a container_name allows one container only');
  assert.equal(raw['hostname'], undefined, 'a fixed hostname would be shared by every replica');
  assert.deepEqual(portsOf(raw), [], 'a published host port can be bound by one replica only');
  for (const m of mountsOf(raw)) assert.notEqual(m.type, 'volume', `worker replicas must not share the volume at ${m.target}`);
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  for (const text of [rawText, readme]) assert.match(text, /docker compose up -d --scale worker=3/);

  // Every replica polls the same queues with the same keys as the API.
  const api = envOf(service('api'));
  const env = envOf(service('worker'));
  assert.equal(env['DROVER_ENCRYPTION_KEYS'], api['DROVER_ENCRYPTION_KEYS'], 'the API and the workers share the payload keys');
  assert.equal(env['DROVER_WORKER_ROLE'], 'all', 'a worker polls the main and the realtime queue unless told otherwise');
  for (const knob of ['DROVER_MAX_CONCURRENT_ACTIVITIES', 'DROVER_MAX_CONCURRENT_REALTIME_CHUNKS', 'DROVER_MAX_CACHED_WORKFLOWS']) {
    assert.match(env[knob] ?? '', /^[1-9]\d*$/, `${knob} is a positive number by default`);
    assert.ok(readme.includes(`\`${knob}\``), `${knob} is documented in the README`);
  }
});

test('worker health: the probe allows a few beats of the health file and no more', () => {
  const env = envOf(service('worker'));
  const every = Number(env['DROVER_HEALTH_EVERY_MS'] ?? '10000');
  const window = Number(/<\s*(\d+)/.exec(healthTest(service('worker')))?.[1]);
  assert.ok(Number.isFinite(window), 'the probe compares the file age to a number of ms');
  assert.ok(window >= 2 * every, `a ${window} ms window survives one late beat of ${every} ms`);
  assert.ok(window <= 5 * every, `a ${window} ms window notices a worker cut off from Temporal within a few beats`);
});

test('temporal persists to the postgres service, which the workers share', () => {
  const env = envOf(service('temporal'));
  assert.match(env['DB'] ?? '', /^postgres/, 'Temporal persists to PostgreSQL, not to the dev server SQLite');
  assert.equal(env['POSTGRES_SEEDS'], 'postgres');
  assert.equal(dependsOnOf(service('temporal'))['postgres']?.condition, 'service_healthy');
});
