import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import { ApiEnv } from '../../api/config.js';
import { startApi } from '../../api/start.js';
import { clientConnectionOptions, temporalConnectionOptions } from '../../config/temporal-connection.js';
import { useStack } from '../helpers/stack.js';

const run = promisify(execFile);

/** A CA, a server certificate for localhost and a client certificate, made with the openssl CLI. */
async function makeCertificates(dir: string): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>> {
  const p = (name: string) => join(dir, name);
  const key = (name: string) => run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(name)]);
  await Promise.all([key('ca.key'), key('server.key'), key('client.key')]);
  await run('openssl', [
    ...['req', '-x509', '-new', '-key', p('ca.key'), '-days', '2', '-subj', '/CN=drover-test-ca', '-out', p('ca.pem')],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  const leaf = async (name: string, cn: string, ext: string) => {
    await run('openssl', ['req', '-new', '-key', p(`${name}.key`), '-subj', `/CN=${cn}`, '-out', p(`${name}.csr`)]);
    await writeFile(p(`${name}.ext`), ext);
    await run('openssl', [
      ...['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial'],
      ...['-days', '2', '-extfile', p(`${name}.ext`), '-out', p(`${name}.pem`)],
    ]);
  };
  await leaf('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n');
  await leaf('client', 'drover-worker', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  return {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}

/**
 * The dev server speaks plain gRPC only (`temporal server start-dev` has no TLS flags), so this
 * puts an mTLS-terminating proxy in front of it: a TLS server (HTTP/2 by ALPN) that requires a
 * client certificate from the test CA and pipes the bytes to the dev server. Drover's worker and
 * API then reach Temporal through it with only the TEMPORAL_TLS_* variables set, as they would
 * reach a self-hosted server with mTLS or Temporal Cloud.
 */
describe('connecting to Temporal over mTLS', () => {
  const stack = useStack({ processingMs: 200 });
  let dir: string;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  let proxy: Server;
  let proxyAddress = '';
  const clients: string[] = [];
  const sockets = new Set<Socket>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-mtls-'));
    certs = await makeCertificates(dir);
    const [host, port] = stack.temporal.address.split(':');
    proxy = createServer(
      {
        key: await readFile(certs.serverKey),
        cert: await readFile(certs.serverCert),
        ca: await readFile(certs.ca),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (tlsSocket: TLSSocket) => {
        clients.push(String(tlsSocket.getPeerCertificate().subject?.CN));
        const upstream = connect(Number(port), host!);
        for (const s of [tlsSocket, upstream]) {
          sockets.add(s);
          s.on('error', () => {}).on('close', () => sockets.delete(s));
        }
        tlsSocket.pipe(upstream).pipe(tlsSocket);
      },
    );
    proxy.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyAddress = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => proxy?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const tlsEnv = () => ({
    TEMPORAL_ADDRESS: proxyAddress,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  });

  test('both connections Drover makes handshake with the client certificate, and fail without it or without the CA', async () => {
    const env = { ...tlsEnv(), TEMPORAL_NAMESPACE: stack.temporal.namespace };
    const client = await Connection.connect(clientConnectionOptions(env));
    assert.ok((await client.workflowService.getSystemInfo({})).serverVersion);
    await client.close();
    const native = await NativeConnection.connect(temporalConnectionOptions(env));
    await native.close();
    assert.ok(clients.filter((cn) => cn === 'drover-worker').length >= 2, JSON.stringify(clients));

    const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noClientCert } = env;
    await assert.rejects(Connection.connect({ ...clientConnectionOptions(noClientCert), connectTimeout: 1000 }));
    const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: _ca, ...noCa } = env;
    await assert.rejects(Connection.connect({ ...clientConnectionOptions(noCa), connectTimeout: 1000 }));
    await assert.rejects(Connection.connect({ address: proxyAddress, connectTimeout: 1000 }), 'plain gRPC to a TLS port fails');
  });

  test('a batch runs end to end with the worker and the API on mTLS', async () => {
    const before = clients.length;
    await stack.startWorker(tlsEnv());
    const api = await startApi(
      ApiEnv.parse({
        ...tlsEnv(),
        DATABASE_URL: stack.database.url,
        TEMPORAL_NAMESPACE: stack.temporal.namespace,
        DROVER_TASK_QUEUE: stack.taskQueue,
        DROVER_ADMIN_KEY: stack.adminKey,
        DROVER_ENCRYPTION_KEYS: stack.encryptionKeys,
        PORT: '0',
      }),
      stack.db,
      pino({ level: 'silent' }),
    );
    try {
      const headers = { ...stack.auth, 'content-type': 'application/json' };
      const res = await fetch(`${api.url}/v1/batches`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'gpt-4.1-mini', mode: 'batch', items: [{ id: 'a', content: 'over TLS' }] }),
      });
      const created = (await res.json()) as any;
      assert.equal(res.status, 202, JSON.stringify(created));
      let batch: any;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
        batch = await (await fetch(`${api.url}/v1/batches/${created.id}`, { headers })).json();
        if (['completed', 'failed'].includes(batch.status)) break;
      }
      assert.equal(batch.status, 'completed', JSON.stringify(batch));
      // The worker's admin and worker connections and the API's client all came through the proxy.
      assert.ok(clients.length - before >= 3, `${clients.length - before} TLS connections`);
    } finally {
      await api.close();
    }
  });
});
