import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressProblem, webhookUrlProblem } from '../domain/public-address.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Every address a name resolves to; injected so tests can make a name resolve where they need. */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

/** The operating system's resolver, as connections use it (getaddrinfo: /etc/hosts, then DNS). */
export const systemResolver: ResolveHost = (hostname) => lookup(hostname, { all: true });

export interface WebhookPostOptions {
  /** DROVER_WEBHOOK_ALLOW_PRIVATE: private and loopback targets and plain http are allowed. */
  allowPrivate: boolean;
  resolve: ResolveHost;
  timeoutMs: number;
}

/** The target may not be sent to, now or on any retry: the URL or what its name resolves to is not public. */
export class WebhookRefusedError extends Error {}

/**
 * POSTs `body` to `url` and answers the status. The name is resolved once, every address it gave
 * is checked, and the connection goes only to those addresses (a custom `lookup`), so a name that
 * answers a public address to the check and a private one to the connection (DNS rebinding)
 * cannot get through. Redirects are never followed: the answer is the receiver's own status.
 */
export async function postWebhook(url: string, headers: Record<string, string>, body: string, opts: WebhookPostOptions): Promise<number> {
  const problem = webhookUrlProblem(url, { allowPrivate: opts.allowPrivate });
  if (problem) throw new WebhookRefusedError(`webhook_url ${problem}`);
  const target = new URL(url);
  const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const addresses: ResolvedAddress[] = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await opts.resolve(hostname);
  if (addresses.length === 0) throw new Error(`${hostname} resolves to no address`);
  if (!opts.allowPrivate) {
    for (const { address } of addresses) {
      const why = addressProblem(address);
      if (why) throw new WebhookRefusedError(`${hostname} resolves to ${address}, ${why}`);
    }
  }
  const pinned: LookupFunction = (_name, options, callback) => {
    // Node asks for every address (`all`) when it races IPv4 against IPv6 (autoSelectFamily).
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: pinned,
        // A fresh connection each time: a pooled one could have been opened to an address checked earlier.
        agent: false,
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        // Only the status matters; the body is drained, and the timeout ends a receiver that never stops sending.
        res.resume().on('error', () => {});
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
