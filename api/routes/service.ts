import * as R from '../../domain/responses.js';
import { defineRoute, json, type Route } from '../define-route.js';
import { referencePage } from '../reference-page.js';

/** `GET /healthz`, and the reference: `GET /openapi.json` and `GET /docs`, built at first use; `GET /` leads to it. */
export function serviceRoutes(document: () => Record<string, unknown>): Route[] {
  let page: string | undefined;
  return [
    defineRoute(
      {
        method: 'get',
        path: '/',
        tag: 'Service',
        scope: 'public',
        summary: 'Where to start',
        description: 'A browser (or `curl -L`) pointed at the API lands on its reference.',
        responses: { 302: { description: 'To `/docs`, the reference; `/openapi.json` is the same as OpenAPI 3.1.' } },
      },
      ({ res }) => {
        res.redirect(302, '/docs');
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/healthz',
        tag: 'Service',
        scope: 'public',
        summary: 'Health',
        responses: { 200: { description: 'The API is up.', content: json(R.Health) } },
      },
      () => ({ status: 'ok' }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/openapi.json',
        tag: 'Service',
        scope: 'public',
        summary: 'This document',
        responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
      () => document(),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/docs',
        tag: 'Service',
        scope: 'public',
        summary: 'The API reference, as a page',
        responses: { 200: { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
      ({ res }) => {
        page ??= referencePage(document());
        res.type('html').send(page);
      },
    ),
  ];
}
