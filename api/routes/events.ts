import type { Response } from 'express';
import { TERMINAL_BATCH_STATUSES } from '../../domain/responses.js';
import type { BatchService } from '../batch-service.js';
import { defineRoute, type Route } from '../define-route.js';
import { AppError } from '../errors.js';
import { batchId, errorResponse, notFound } from './docs.js';

const POLL_MS = 1000;

function send(res: Response, event: string, data: unknown, id?: string): void {
  res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const START = { at: '1970-01-01 00:00:00+00', seq: -1 };
/** PostgreSQL's timestamptz text, e.g. `2026-11-22 04:30:01.123456+00`. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

/** `<timestamp>/<seq>`: where a reconnecting client (Last-Event-ID) picks up. */
function parseCursor(raw: string | undefined): { at: string; seq: number } {
  const slash = raw?.lastIndexOf('/') ?? -1;
  if (!raw || slash < 0 || !TIMESTAMP.test(raw.slice(0, slash))) return START;
  const seq = Number(raw.slice(slash + 1));
  return Number.isInteger(seq) ? { at: raw.slice(0, slash), seq } : START;
}

/**
 * Server-Sent Events. `progress` carries the batch view about once a second, `item` each
 * finished item (id and status) as its outcome is written, and `done` the final view, after
 * which the stream closes. Item events carry ids, so a client that reconnects with
 * Last-Event-ID misses none and sees none twice.
 */
export function eventRoutes(service: BatchService, maxStreamsPerTenant = 16): Route[] {
  const streams = new Map<string, number>();
  return [
    defineRoute(
      {
        method: 'get',
        path: '/v1/batches/{id}/events',
        tag: 'Results',
        scope: 'batches:read',
        summary: 'Follow a batch (Server-Sent Events)',
        description:
          'Events: `progress` (the Batch, about once a second), `item` (`{id, status}` as each item finishes; its SSE id resumes the stream), `done` (the final Batch). Reconnect with `Last-Event-ID` to miss none and see none twice.',
        params: { id: batchId },
        headers: { 'Last-Event-ID': 'The id of the last `item` event seen.' },
        responses: {
          200: { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          404: notFound,
          429: errorResponse(
            'The tenant already holds the most event streams allowed open at once (`too_many_streams`; DROVER_MAX_EVENT_STREAMS); close one, or poll GET /v1/batches/{id}.',
          ),
        },
      },
      async ({ caller: { tenant }, stillAuthorized, params: { id }, req, res }) => {
        let view = await service.get(tenant, id);
        // Each stream holds a connection and polls the store every second: a tenant gets a bounded number.
        const held = streams.get(tenant) ?? 0;
        if (held >= maxStreamsPerTenant)
          throw new AppError(
            429,
            'too_many_streams',
            `at most ${maxStreamsPerTenant} event streams open at once per tenant (DROVER_MAX_EVENT_STREAMS); close one, or poll GET /v1/batches/${id} instead`,
            [{ path: '(connection)', message: `${held} streams already open` }],
          );
        streams.set(tenant, held + 1);
        res.on('close', () => {
          const now = (streams.get(tenant) ?? 1) - 1;
          if (now <= 0) streams.delete(tenant);
          else streams.set(tenant, now);
        });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        let cursor = parseCursor(req.get('last-event-id'));
        let open = true;
        req.on('close', () => (open = false));
        while (open) {
          const settled = TERMINAL_BATCH_STATUSES.includes(view.status as (typeof TERMINAL_BATCH_STATUSES)[number]);
          for (;;) {
            const changes = await service.itemChanges(tenant, id, cursor, settled);
            for (const c of changes) {
              cursor = { at: c.at, seq: c.seq };
              send(res, 'item', { id: c.item_id, status: c.status }, `${c.at}/${c.seq}`);
            }
            if (changes.length < 500) break;
          }
          if (settled) {
            send(res, 'done', view);
            break;
          }
          send(res, 'progress', view);
          await new Promise((r) => setTimeout(r, POLL_MS));
          // A key revoked while it watches stops watching, within the same second as everywhere else.
          if (open && !(await stillAuthorized())) break;
          if (open) view = await service.get(tenant, id);
        }
        res.end();
      },
    ),
  ];
}
