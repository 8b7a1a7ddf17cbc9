// The browsable API reference at /docs (issue 11 item 7), on the real gateway over HTTP: the page
// and every asset it references load from the gateway itself, the document it loads is the
// committed contract, it is public like /openapi.json, and bad paths get the usual envelopes.
// A headless-Chromium check renders the page when a Chromium binary is present (optional).

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

interface Contract {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { operationId?: string }>>;
}

const contract = JSON.parse(readFileSync(new URL('../../src/generated/openapi.json', import.meta.url), 'utf8')) as Contract;

function operationIds(doc: Contract): string[] {
  return Object.values(doc.paths).flatMap((item) => Object.values(item).flatMap((op) => (op.operationId ? [op.operationId] : []))).sort();
}

/** Every `src` and `href` in the page, in order. */
function assetRefs(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? '');
}

const CONTENT_TYPES: Record<string, RegExp> = {
  '.js': /^application\/javascript; charset=utf-8$/,
  '.css': /^text\/css; charset=utf-8$/,
  '.png': /^image\/png$/,
};

let gw: TestGateway;
beforeAll(async () => {
  // Both planes locked: the page must still be public.
  gw = await startGateway(testConfig({ auth: { data_tokens: ['data-secret'], control_tokens: ['control-secret'] } }));
});
afterAll(async () => gw?.close());

describe('GET /docs', () => {
  it('serves the Swagger UI page as HTML without a token, while the API behind it still wants one', async () => {
    const page = await gw.get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<div id="swagger-ui"></div>');
    expect(page.text).toContain('<title>OrchQueue API</title>');
    expect((await gw.get('/docs/')).status).toBe(200);
    expect((await gw.get('/v1/pools')).status).toBe(401);
  });

  it('references only its own assets under /docs/static, and each loads with its content type', async () => {
    const refs = assetRefs((await gw.get('/docs')).text);
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const ref of refs) expect(ref).toMatch(/^\/docs\/static\/[\w.-]+$/);
    expect(refs).toEqual(expect.arrayContaining(['/docs/static/swagger-ui.css', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js']));
    for (const ref of refs) {
      const res = await gw.get(ref);
      const ext = /\.\w+$/.exec(ref)?.[0] ?? '';
      expect(res.status, ref).toBe(200);
      expect(res.headers['content-type'], ref).toMatch(CONTENT_TYPES[ext] ?? /^$/);
      expect(res.text.length, ref).toBeGreaterThan(0);
    }
  });

  it('keeps the page to its own origin with a Content-Security-Policy', async () => {
    const csp = String((await gw.get('/docs')).headers['content-security-policy']);
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/https?:|\*/);
  });

  it('loads the committed contract: the same operations, the same document as /openapi.json but a first server relative to this gateway', async () => {
    // The initializer points the UI at ./json, relative to /docs/.
    expect((await gw.get('/docs/static/swagger-initializer.js')).text).toContain("resolveUrl('./json')");
    const loaded = await gw.get('/docs/json');
    expect(loaded.status).toBe(200);
    expect(loaded.headers['content-type']).toBe('application/json; charset=utf-8');
    const doc = loaded.body as Contract;
    expect(operationIds(doc)).toEqual(operationIds(contract));
    expect(operationIds(doc).length).toBeGreaterThan(20);
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }, ...contract.servers]);
    expect({ ...doc, servers: contract.servers }).toEqual(contract);
    expect((await gw.get('/openapi.json')).body).toEqual(contract);
  });

  it('answers an unknown asset, a traversal attempt and a non-GET method with the NOT_FOUND envelope', async () => {
    for (const [method, path] of [
      ['GET', '/docs/static/nope.js'],
      ['GET', '/docs/static/..%2f..%2fpackage.json'],
      ['GET', '/docs/static/%2e%2e/%2e%2e/package.json'],
      ['POST', '/docs'],
      ['DELETE', '/docs/json'],
    ] as const) {
      const res = await gw.raw(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body, `${method} ${path}`).toMatchObject({ error: { code: 'NOT_FOUND', retriable: false } });
      expect(res.text).not.toContain('"name": "orchqueue"');
    }
  });
});

const chromium = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (p): p is string => typeof p === 'string' && p !== '' && existsSync(p),
);

describe('GET /docs in a browser', () => {
  it('renders every operation of the contract in headless Chromium with no request leaving the gateway', { timeout: 90_000 }, async (ctx) => {
    if (chromium === undefined) {
      const note = 'no Chromium binary (set CHROMIUM or install chromium): browser check skipped, the HTTP-level checks above still ran';
      console.warn(note);
      ctx.skip(note);
    }
    const profile = mkdtempSync(join(tmpdir(), 'orchqueue-docs-chromium-'));
    try {
      const { stdout, stderr } = await promisify(execFile)(
        chromium ?? '',
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`,
          // Any host but the gateway's is unresolvable: the page must render offline.
          '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
          '--enable-logging=stderr', '--v=0', '--virtual-time-budget=15000', '--dump-dom', `${gw.url}/docs`,
        ],
        { timeout: 80_000, maxBuffer: 64 * 1024 * 1024 },
      );
      const rendered = [...stdout.matchAll(/class="opblock-summary-operation-id"[^>]*>([^<]+)</g)].map((m) => m[1] ?? '').sort();
      expect(rendered).toEqual(operationIds(contract));
      // The browser logs page console messages (CSP refusals, failed loads, script errors) as CONSOLE lines.
      expect(stderr.split('\n').filter((line) => line.includes(':CONSOLE'))).toEqual([]);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
