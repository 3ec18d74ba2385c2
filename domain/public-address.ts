import { isIP } from 'node:net';

/**
 * Whether a webhook may be sent to an address: the worker POSTs wherever a tenant says, so an
 * address that is not on the public internet (the worker's own loopback, the cloud metadata
 * service, the private network it runs in) would let a tenant reach what only Drover can reach.
 * Pure: the API checks the URL at submit, and the worker checks every address a name resolves to
 * at delivery, with the same rules.
 *
 * IPv4 in decimal, octal, hex or short forms (`2130706433`, `0x7f.1`, `017700000001`, `127.1`) is
 * not parsed here: the WHATWG URL parser already rewrites each to dotted decimal (`127.0.0.1`),
 * and the checks below only ever see `URL.hostname`.
 */

/** Why an address is not public, or null when it is. */
export function addressProblem(address: string): string | null {
  const ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  switch (isIP(ip)) {
    case 4:
      return ipv4Problem(ipv4Bits(ip));
    case 6:
      return ipv6Problem(ipv6Words(ip));
    default:
      return 'is not an IP address';
  }
}

/** [first address, prefix length, why]; checked in order. From the IANA IPv4 special-purpose registry. */
const IPV4_BLOCKS: ReadonlyArray<readonly [string, number, string]> = [
  ['0.0.0.0', 8, 'an unspecified ("this network", 0.0.0.0/8) address'],
  ['10.0.0.0', 8, 'a private address (10.0.0.0/8)'],
  ['100.64.0.0', 10, 'a shared (CGNAT) address (100.64.0.0/10)'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (169.254.0.0/16, where cloud metadata services answer)'],
  ['172.16.0.0', 12, 'a private address (172.16.0.0/12)'],
  ['192.0.0.0', 24, 'an IETF protocol address (192.0.0.0/24)'],
  ['192.0.2.0', 24, 'a documentation address'],
  ['192.88.99.0', 24, 'a 6to4 relay address'],
  ['192.168.0.0', 16, 'a private address (192.168.0.0/16)'],
  ['198.18.0.0', 15, 'a benchmarking address (198.18.0.0/15)'],
  ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved or broadcast address (240.0.0.0/4)'],
];

function ipv4Problem(bits: number): string | null {
  for (const [first, prefix, why] of IPV4_BLOCKS) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((bits & mask) >>> 0 === ipv4Bits(first)) return why;
  }
  return null;
}

/**
 * Only global unicast (2000::/3) is public, less its special blocks; addresses that carry an IPv4
 * address (mapped, NAT64, 6to4) are judged by that address, since that is where packets go.
 */
function ipv6Problem(w: readonly number[]): string | null {
  const embedded = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;
  const zeroUpTo = (n: number) => w.slice(0, n).every((x) => x === 0);
  if (w.every((x) => x === 0)) return 'an unspecified address (::)';
  if (zeroUpTo(7) && w[7] === 1) return 'a loopback address (::1)';
  if (zeroUpTo(5) && w[5] === 0xffff) return inside('an IPv4-mapped address', embedded(w[6]!, w[7]!));
  if (w[0] === 0x64 && w[1] === 0xff9b && w.slice(2, 6).every((x) => x === 0)) return inside('a NAT64 address', embedded(w[6]!, w[7]!));
  if (w[0] === 0x2002) return inside('a 6to4 address', embedded(w[1]!, w[2]!));
  const first = w[0]!;
  if (first >= 0xff00) return 'a multicast address (ff00::/8)';
  if (first >= 0xfe80 && first <= 0xfebf) return 'a link-local address (fe80::/10)';
  if (first >= 0xfec0 && first <= 0xfeff) return 'a site-local address (fec0::/10)';
  if (first >= 0xfc00 && first <= 0xfdff) return 'a unique local address (fc00::/7)';
  if (first === 0x64 && w[1] === 0xff9b && w[2] === 1) return 'a local-use NAT64 address (64:ff9b:1::/48)';
  if (first < 0x2000 || first > 0x3fff) return 'not a global unicast address (2000::/3)';
  if (first === 0x2001 && w[1]! < 0x200) return 'an IETF special-purpose address (2001::/23, incl. Teredo)';
  if (first === 0x2001 && w[1] === 0xdb8) return 'a documentation address (2001:db8::/32)';
  if (first === 0x3fff && w[1]! < 0x1000) return 'a documentation address (3fff::/20)';
  return null;
}

function inside(kind: string, v4: number): string | null {
  const problem = ipv4Problem(v4);
  return problem && `${kind} of ${problem}`;
}

function ipv4Bits(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/** The eight 16-bit words of an address `isIP` accepted (`::`, a trailing dotted quad, a zone). */
function ipv6Words(ip: string): number[] {
  let text = ip.split('%')[0]!;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = ipv4Bits(quad[1]!);
    text = `${text.slice(0, quad.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const words = (s: string | undefined) => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const left = words(head);
  const right = words(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * Names that never lead to the public internet: `localhost` (RFC 6761), mDNS `.local` (RFC 6762,
 * and Kubernetes' `cluster.local`), ICANN's private-use `.internal` (`metadata.google.internal`),
 * `.arpa` (`home.arpa`, reverse zones), and undelegated names private networks use.
 */
const LOCAL_SUFFIXES = ['localhost', 'local', 'internal', 'arpa', 'localdomain', 'lan', 'home', 'corp', 'intranet'];

/** Why a host name (not an address) cannot be a public receiver, or null when it may be. */
export function hostnameProblem(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  for (const suffix of LOCAL_SUFFIXES) {
    if (name === suffix || name.endsWith(`.${suffix}`)) return `is a local name (.${suffix})`;
  }
  if (!name.includes('.')) return 'is a single-label name, which resolves through local search domains';
  return null;
}

export interface WebhookUrlPolicy {
  /** DROVER_WEBHOOK_ALLOW_PRIVATE: private and loopback targets and plain http are allowed. */
  allowPrivate: boolean;
}

/**
 * Why `url` may not be a webhook target under `policy`, or null when it may. Checks what the URL
 * says; the worker checks again what its name resolves to (activities/webhook-post.ts).
 */
export function webhookUrlProblem(url: string, policy: WebhookUrlPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'must be an https URL';
  if (parsed.username || parsed.password) return 'must not carry credentials (a token in the path or query works)';
  if (policy.allowPrivate) return null;
  if (parsed.protocol !== 'https:') return 'must be https (plain http only where the operator sets DROVER_WEBHOOK_ALLOW_PRIVATE)';
  const host = parsed.hostname;
  const address = host.startsWith('[') ? host.slice(1, -1) : host;
  const problem = isIP(address) ? addressProblem(address) : hostnameProblem(host);
  return problem && `must point to a public address: ${host} ${isIP(address) ? `is ${problem}` : problem}`;
}
