// The browsable API reference at /docs (issue 11 item 7): Swagger UI over the committed,
// generated contract in static mode, so the page documents exactly what /openapi.json serves.
// Public like /openapi.json; every asset comes from the installed package and no validator URL
// is set (so no badge from validator.swagger.io): the page works offline and never leaves the gateway.
//
// The page is its own Fastify instance, built on the first request under /docs and reached
// through inject: a gateway nobody browses never loads the Swagger plugins (≈ 3 MiB of heap
// for good, issue 14). Its 404s (unknown assets, traversal attempts) become the gateway's
// NOT_FOUND envelope.

import type { StaticDocumentSpec } from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type openapi from '../../generated/openapi.json';
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

/** The page's own server: the Swagger plugins over the contract, loaded only now. */
async function buildPage(): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }, { default: contract }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
    import('../../generated/openapi.json', { with: { type: 'json' } }),
  ]);
  const page = Fastify();
  // The plugin's types admit OpenAPI 2 and 3.0 documents only; static mode serves any object
  // unchanged (lib/mode/static.js), and ours is the generated, gen-checked 3.1 contract.
  await page.register(swagger, { mode: 'static', specification: { document: pageSpecification(contract) as unknown as StaticDocumentSpec['document'] } });
  await page.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { deepLinking: true, displayOperationId: true, tryItOutEnabled: false },
    // The page's own assets only: nothing from another origin, no inline script.
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'",
    theme: { title: 'OrchQueue API' },
    logo: { type: 'image/svg+xml', content: LOGO_SVG, href: DOCS_PREFIX, target: '_self' },
  });
  await page.ready();
  return page;
}

/** Headers of the page's answer that describe its own connection, not the content. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  let page: Promise<FastifyInstance> | undefined;
  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    // A build that failed is retried by the next request.
    page ??= buildPage().catch((error: unknown) => {
      page = undefined;
      throw error;
    });
    const answer = await (await page).inject({ method: req.method as 'GET' | 'HEAD', url: req.url, headers: req.headers });
    if (answer.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) reply.header(name, value);
    }
    return reply.code(answer.statusCode).send(answer.rawPayload);
  };
  // The page's paths as Swagger UI registers them: the page at /docs and /docs/, the rest below.
  for (const url of [DOCS_PREFIX, `${DOCS_PREFIX}/`, `${DOCS_PREFIX}/*`]) app.get(url, forward);
  app.addHook('onClose', async () => {
    await (await page?.catch(() => undefined))?.close();
  });
}
