// The browsable API reference at /docs (issue 11 item 7): Swagger UI over the committed,
// generated contract in static mode, so the page documents exactly what /openapi.json serves.
// Public like /openapi.json; every asset comes from the installed package and no validator URL
// is set (so no badge from validator.swagger.io): the page works offline and never leaves the gateway.

import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import openapi from '../../generated/openapi.json' with { type: 'json' };

export const DOCS_PREFIX = '/docs';

/** The top bar's logo: the project's name instead of the UI package's default (Fastify's). */
const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="150" height="40"><text x="0" y="28" font-family="sans-serif" font-size="24" font-weight="bold" fill="#fff">OrchQueue</text></svg>';

/**
 * The contract as the page loads it: unchanged but for a first server entry relative to the
 * gateway serving the page, so "Try it out" reaches this gateway whatever host and port it
 * listens on (the contract's own `servers` name only the default bind).
 */
export function pageSpecification(document: typeof openapi): typeof openapi {
  return { ...document, servers: [{ url: '/', description: 'this gateway (the origin serving /docs)' }, ...document.servers] };
}

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  const document = pageSpecification(openapi);
  // The plugin's types admit OpenAPI 2 and 3.0 documents only; static mode serves any object
  // unchanged (lib/mode/static.js), and ours is the generated, gen-checked 3.1 contract.
  await app.register(swagger, { mode: 'static', specification: { document: document as unknown as StaticDocumentSpec['document'] } });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { deepLinking: true, displayOperationId: true, tryItOutEnabled: false },
    // The page's own assets only: nothing from another origin, no inline script.
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'",
    theme: { title: 'OrchQueue API' },
    logo: { type: 'image/svg+xml', content: LOGO_SVG, href: DOCS_PREFIX, target: '_self' },
  });
}
