import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tracingOptions } from '../../tracing/options.js';
import { activeTracing, tracingFromEnv } from '../../tracing/tracing.js';

test('tracing is off, and nothing is created, unless an OTLP endpoint is set', () => {
  assert.equal(tracingOptions({}, 'drover-api'), undefined);
  assert.equal(tracingOptions({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, 'drover-api'), undefined);
  assert.equal(tracingFromEnv('drover-api', { OTEL_SERVICE_NAME: 'x' }), undefined);
  assert.equal(activeTracing(), undefined);
});

test('the endpoint gets /v1/traces; a traces endpoint is taken whole; service name and headers follow the OTel variables', () => {
  assert.deepEqual(tracingOptions({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'drover-worker'), {
    serviceName: 'drover-worker',
    url: 'http://collector:4318/v1/traces',
    headers: {},
  });
  assert.deepEqual(
    tracingOptions(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otlp.example/api/traces',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=a%3Db, tenant = ops',
        OTEL_SERVICE_NAME: 'drover-eu',
      },
      'drover-api',
    ),
    { serviceName: 'drover-eu', url: 'https://otlp.example/api/traces', headers: { 'x-api-key': 'a=b', tenant: 'ops' } },
  );
});
