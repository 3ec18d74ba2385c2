import { Router } from 'express';
import { openApiDocument } from '../openapi.js';
import { referencePage } from '../reference-page.js';

/** `GET /openapi.json` and `GET /docs`: the reference, built from the zod schemas at first use. */
export function referenceRouter(): Router {
  const router = Router();
  let page: string | undefined;
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.get('/docs', (_req, res) => {
    page ??= referencePage(openApiDocument());
    res.type('html').send(page);
  });
  return router;
}
