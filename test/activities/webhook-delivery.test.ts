import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { storeJsonBatch } from '../../api/intake/json-batch.js';
import type { ResolvedAddress, ResolveHost } from '../../activities/webhook-post.js';
import { createWebhookActivities } from '../../activities/webhooks.js';
import { FailureType } from '../../domain/failure-types.js';
import { createScratchDatabase, type ScratchDatabase } from '../../stack/scratch-database.js';

interface Receiver {
  server: Server;
  port: number;
  requests: Array<{ url: string | undefined; headers: IncomingHttpHeaders }>;
}

/** A local HTTP server that records each request and answers `status` (with `location` when given). */
async function receiver(status: number, location?: string): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url, headers: req.headers });
    req.resume().on('end', () => res.writeHead(status, location ? { location } : {}).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/** A resolver that answers from a table and counts its questions: DNS as a test needs it, nothing of Drover's. */
function resolver(table: Record<string, ResolvedAddress[]>): ResolveHost & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (host: string) => {
    asked.push(host);
    const found = table[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found;
  };
  return Object.assign(resolve, { asked });
}

/** The failure an activity ended with (it must end with one). */
async function failure(run: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await run.then(
    () => assert.fail('the delivery was expected to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, String(err));
  return err;
}

/**
 * The delivery activity against the real store and real local receivers, with only name
 * resolution injected: no name here exists in DNS, so a delivery that arrives proves the
 * connection went to the address the check saw.
 */
describe('webhook delivery refuses inside targets', () => {
  let database: ScratchDatabase;
  const servers: Server[] = [];
  const run = <R>(fn: () => Promise<R>): Promise<R> => new MockActivityEnvironment().run(fn) as Promise<R>;

  before(async () => {
    database = await createScratchDatabase('drover_test');
  });
  after(async () => {
    for (const s of servers) s.close();
    await database?.drop();
  });

  async function batchWith(webhook_url: string, allowPrivateWebhooks: boolean): Promise<string> {
    const stored = await storeJsonBatch(
      database.db,
      'default',
      { model: 'gpt-4.1-mini', items: [{ id: 'a', content: 'x' }], webhook_url },
      { priceOverrides: {}, allowPrivateWebhooks },
    );
    assert.ok(stored.created);
    return stored.batch.id;
  }

  async function listen(status: number, location?: string): Promise<Receiver> {
    const r = await receiver(status, location);
    servers.push(r.server);
    return r;
  }

  const deliver = (acts: ReturnType<typeof createWebhookActivities>, batchId: string) =>
    run(() => acts.deliverWebhook({ batchId, event: 'batch.completed', eventId: 'evt_test' }));

  test('a public-looking name that resolves to loopback is refused at delivery, for good', async () => {
    const inside = await listen(204);
    const batchId = await batchWith(`https://hooks.drover.example:${inside.port}/hook`, false);
    const dns = resolver({ 'hooks.drover.example': [{ address: '127.0.0.1', family: 4 }] });
    const err = await failure(deliver(createWebhookActivities(database.db, { resolve: dns }), batchId));
    assert.equal(err.type, FailureType.WebhookRefused);
    assert.equal(err.nonRetryable, true, 'no retry can make the address public');
    assert.match(err.message, /hooks\.drover\.example resolves to 127\.0\.0\.1, a loopback address/);
    assert.deepEqual(dns.asked, ['hooks.drover.example']);
    assert.equal(inside.requests.length, 0, 'nothing reached the receiver');
  });

  test('every address a name resolves to is checked, not just the first', async () => {
    const batchId = await batchWith('https://mixed.drover.example/hook', false);
    const dns = resolver({
      'mixed.drover.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '::ffff:169.254.169.254', family: 6 },
      ],
    });
    const err = await failure(deliver(createWebhookActivities(database.db, { resolve: dns }), batchId));
    assert.equal(err.type, FailureType.WebhookRefused);
    assert.match(err.message, /::ffff:169\.254\.169\.254, an IPv4-mapped address of a link-local address/);
  });

  test('a URL stored while private targets were allowed is refused once the worker does not allow them', async () => {
    const inside = await listen(204);
    const batchId = await batchWith(`http://127.0.0.1:${inside.port}/hook?token=s3cret`, true);
    const dns = resolver({});
    const err = await failure(deliver(createWebhookActivities(database.db, { resolve: dns }), batchId));
    assert.equal(err.type, FailureType.WebhookRefused);
    assert.equal(err.nonRetryable, true);
    assert.doesNotMatch(err.message, /s3cret|\/hook/, 'the message names the host only');
    assert.deepEqual(dns.asked, [], 'refused before any lookup');
    assert.equal(inside.requests.length, 0);
  });

  test('with private targets allowed, the connection goes to the resolved address (the name is in no DNS)', async () => {
    const inside = await listen(204);
    const batchId = await batchWith(`http://pinned.drover.example:${inside.port}/hook`, true);
    const dns = resolver({ 'pinned.drover.example': [{ address: '127.0.0.1', family: 4 }] });
    const acts = createWebhookActivities(database.db, { allowPrivate: true, resolve: dns });
    assert.deepEqual(await deliver(acts, batchId), { delivered: true, status: 204 });
    assert.equal(inside.requests.length, 1);
    assert.equal(inside.requests[0]!.headers.host, `pinned.drover.example:${inside.port}`, 'the Host header keeps the name');
    assert.deepEqual(dns.asked, ['pinned.drover.example'], 'resolved once: what was checked is what was connected to');
  });

  test('a redirect is not followed: the delivery fails and the target it names gets nothing', async () => {
    const target = await listen(204);
    const redirecting = await listen(302, `http://127.0.0.1:${target.port}/internal`);
    const batchId = await batchWith(`http://127.0.0.1:${redirecting.port}/hook`, true);
    const err = await failure(deliver(createWebhookActivities(database.db, { allowPrivate: true }), batchId));
    assert.equal(err.type, FailureType.WebhookUndelivered);
    assert.match(err.message, /answered 302; redirects are not followed/);
    assert.equal(redirecting.requests.length, 1);
    assert.equal(target.requests.length, 0, 'the redirect target was never asked');
  });

  test('a name that does not resolve is a retryable failure, not a refusal', async () => {
    const batchId = await batchWith('https://gone.drover.example/hook', false);
    const err = await failure(deliver(createWebhookActivities(database.db, { resolve: resolver({}) }), batchId));
    assert.equal(err.type, FailureType.WebhookUndelivered);
    assert.notEqual(err.nonRetryable, true);
    assert.match(err.message, /ENOTFOUND/);
  });
});
