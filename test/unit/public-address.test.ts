import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressProblem, hostnameProblem, webhookUrlProblem } from '../../domain/public-address.js';

const strict = { allowPrivate: false };

/** [webhook_url, a word its refusal must contain]: each must be refused at submit. */
const HOSTILE: ReadonlyArray<readonly [string, RegExp]> = [
  // Loopback, in every form the URL parser turns into 127.0.0.1.
  ['https://127.0.0.1/hook', /loopback/],
  ['https://127.255.255.254/', /loopback/],
  ['https://2130706433/', /127\.0\.0\.1 is a loopback/],
  ['https://0x7f.1/', /127\.0\.0\.1 is a loopback/],
  ['https://0x7f000001/', /127\.0\.0\.1 is a loopback/],
  ['https://017700000001/', /127\.0\.0\.1 is a loopback/],
  ['https://0177.0.0.1/', /127\.0\.0\.1 is a loopback/],
  ['https://127.1/', /127\.0\.0\.1 is a loopback/],
  ['https://127.0.1/', /127\.0\.0\.1 is a loopback/],
  ['https://127.0.0.1./', /loopback/],
  ['https://127.0.0.%31/', /loopback/],
  ['https://０x7f.1/', /loopback/],
  ['https://[::1]/', /loopback/],
  ['https://[0:0:0:0:0:0:0:1]/', /loopback/],
  // Private, shared and link-local IPv4, including the metadata service.
  ['https://10.0.0.1/', /private/],
  ['https://167772161/', /10\.0\.0\.1 is a private/],
  ['https://172.16.0.1/', /private/],
  ['https://172.31.255.255/', /private/],
  ['https://192.168.1.1/', /private/],
  ['https://0xc0.0xa8.1.1/', /192\.168\.1\.1 is a private/],
  ['https://100.64.0.1/', /CGNAT/],
  ['https://100.127.255.255/', /CGNAT/],
  ['https://169.254.169.254/latest/meta-data/', /link-local/],
  ['https://2852039166/', /169\.254\.169\.254 is a link-local/],
  ['https://169.254.0.1/', /link-local/],
  // Unspecified, multicast, broadcast, reserved and documentation blocks.
  ['https://0.0.0.0/', /unspecified/],
  ['https://0/', /unspecified/],
  ['https://[::]/', /unspecified/],
  ['https://224.0.0.1/', /multicast/],
  ['https://239.255.255.250/', /multicast/],
  ['https://255.255.255.255/', /broadcast/],
  ['https://240.0.0.1/', /reserved/],
  ['https://192.0.2.10/', /documentation/],
  ['https://198.18.0.1/', /benchmarking/],
  // IPv6 ranges that stay inside.
  ['https://[fc00::1]/', /unique local/],
  ['https://[fd12:3456:789a::1]/', /unique local/],
  ['https://[fe80::1]/', /link-local/],
  ['https://[febf::1]/', /link-local/],
  ['https://[fec0::1]/', /site-local/],
  ['https://[ff02::1]/', /multicast/],
  ['https://[2001:db8::1]/', /documentation/],
  ['https://[2001::1]/', /Teredo/],
  ['https://[100::1]/', /not a global unicast/],
  // IPv4 carried in IPv6: judged by the IPv4 address.
  ['https://[::ffff:127.0.0.1]/', /IPv4-mapped address of a loopback/],
  ['https://[::ffff:7f00:1]/', /IPv4-mapped address of a loopback/],
  ['https://[0:0:0:0:0:ffff:a9fe:a9fe]/', /IPv4-mapped address of a link-local/],
  ['https://[::ffff:10.1.2.3]/', /IPv4-mapped address of a private/],
  ['https://[::127.0.0.1]/', /not a global unicast/],
  ['https://[64:ff9b::127.0.0.1]/', /NAT64 address of a loopback/],
  ['https://[64:ff9b::a9fe:a9fe]/', /NAT64 address of a link-local/],
  ['https://[64:ff9b:1::a00:1]/', /local-use NAT64/],
  ['https://[2002:7f00:1::]/', /6to4 address of a loopback/],
  ['https://[2002:c0a8:101::1]/', /6to4 address of a private/],
  // Names that only resolve inside.
  ['https://localhost/', /local name/],
  ['https://LOCALHOST./', /local name/],
  ['https://api.localhost/', /local name/],
  ['https://metadata.google.internal/computeMetadata/v1/', /local name \(\.internal\)/],
  ['https://printer.local/', /local name/],
  ['https://db.default.svc.cluster.local/', /local name/],
  ['https://1.0.0.127.in-addr.arpa/', /local name/],
  ['https://router.home.arpa/', /local name/],
  ['https://metadata/', /single-label/],
  ['https://redis:6379/', /single-label/],
  // Plain http, credentials, other schemes.
  ['http://example.com/hook', /must be https/],
  ['https://user:pw@example.com/hook', /credentials/],
  ['ftp://example.com/hook', /https/],
  ['file:///etc/passwd', /https/],
  ['not a url', /absolute/],
];

/** Public receivers that must pass. */
const PUBLIC = [
  'https://93.184.216.34/hook',
  'https://[2606:2800:220:1::]/hook',
  'https://[2606:2800:220:1:248:1893:25c8:1946]/',
  'https://8.8.8.8/',
  'https://1.1.1.1:8443/x?token=abc',
  'https://hooks.example.com/drover',
  'https://api.example.co.uk./drover',
  'https://172.32.0.1/',
  'https://100.128.0.1/',
  'https://169.253.255.255/',
  'https://11.0.0.1/',
  'https://[::ffff:93.184.216.34]/',
  'https://[64:ff9b::5db8:d822]/',
  'https://[2002:5db8:d822::1]/',
  'https://localhost.example.com/',
  'https://internal.example.com/',
];

describe('webhook_url policy', () => {
  test('every inside address, encoding and name is refused, saying why', () => {
    const wrong: string[] = [];
    for (const [url, why] of HOSTILE) {
      const problem = webhookUrlProblem(url, strict);
      if (!problem || !why.test(problem)) wrong.push(`${url}: ${problem}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('public receivers pass', () => {
    assert.deepEqual(
      PUBLIC.map((url) => [url, webhookUrlProblem(url, strict)]).filter(([, p]) => p !== null),
      [],
    );
  });

  test('DROVER_WEBHOOK_ALLOW_PRIVATE lets http and inside targets through, but not other schemes or credentials', () => {
    const open = { allowPrivate: true };
    for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/', 'https://10.0.0.1/', 'http://[::1]:9/']) {
      assert.equal(webhookUrlProblem(url, open), null, url);
    }
    assert.match(webhookUrlProblem('ftp://127.0.0.1/', open)!, /https/);
    assert.match(webhookUrlProblem('http://a:b@127.0.0.1/', open)!, /credentials/);
  });

  test('resolved addresses are judged the same way, in the forms resolvers give them', () => {
    assert.match(addressProblem('127.0.0.1')!, /loopback/);
    assert.match(addressProblem('::ffff:169.254.169.254')!, /IPv4-mapped address of a link-local/);
    assert.match(addressProblem('fe80::1%eth0')!, /link-local/);
    assert.match(addressProblem('[fd00::1]')!, /unique local/);
    assert.match(addressProblem('example.com')!, /not an IP address/);
    assert.equal(addressProblem('93.184.216.34'), null);
    assert.equal(addressProblem('2606:2800:220:1::'), null);
    assert.equal(addressProblem('2a00:1450:4001:80b::200e'), null);
  });

  test('names are judged only by what they say: public-looking names wait for resolution', () => {
    assert.equal(hostnameProblem('10.0.0.1.nip.io'), null);
    assert.match(hostnameProblem('Foo.LocalHost.')!, /local name/);
  });
});
