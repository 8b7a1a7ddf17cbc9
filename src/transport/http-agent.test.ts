import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstream, getJson, readBodyText, type Upstream } from './http-agent.ts';
import { startFakeServer, type FakeServer } from '../../test/fakes/http/fake-server.ts';
import { UpstreamFailure } from './upstream-failure.ts';

const never = new AbortController().signal;
const timeouts = { connectTimeoutMs: 1_000, headersTimeoutMs: 2_000, bodyTimeoutMs: 2_000 };

describe('createUpstream', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer(async (ex) => {
      if (ex.record.path.endsWith('/silent')) return void (await ex.closed);
      if (ex.record.path.endsWith('/big')) return void ex.res.writeHead(200).end('x'.repeat(10_000));
      ex.json(200, { path: ex.record.path, héllo: '🙂' });
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('prefixes the base URL path and sends only the headers it was given', async () => {
    const upstream = createUpstream({ baseUrl: `${server.url}/engine/`, ...timeouts });
    try {
      const res = await getJson(upstream, '/health', { authorization: 'Bearer k' }, never);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ path: '/engine/health', héllo: '🙂' });
      const headers = server.seen.at(-1)?.headers ?? {};
      expect(Object.keys(headers).sort()).toEqual(['authorization', 'connection', 'host']);
    } finally {
      await upstream.close();
    }
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const upstream = createUpstream({ baseUrl: server.url, ...timeouts });
    try {
      for (let i = 0; i < 3; i++) {
        await getJson(upstream, '/x', {}, never);
        // The pool marks a connection free on its next tick ('drain'); ask after that.
        await new Promise((r) => setImmediate(r));
      }
      const ports = new Set(server.seen.slice(-3).map((r) => r.remotePort));
      expect(ports.size).toBe(1);
    } finally {
      await upstream.close();
    }
  });

  it('reads at most the requested number of body bytes', async () => {
    const upstream: Upstream = createUpstream({ baseUrl: server.url, ...timeouts });
    try {
      const res = await upstream.request({ method: 'GET', path: '/big', signal: never });
      expect(await readBodyText(res.body, 100)).toHaveLength(100);
    } finally {
      await upstream.close();
    }
  });

  it('reports missing response headers as a first-byte timeout', async () => {
    const upstream = createUpstream({ baseUrl: server.url, ...timeouts, headersTimeoutMs: 100 });
    try {
      const failure = await upstream.request({ method: 'GET', path: '/silent', signal: never }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(UpstreamFailure);
      expect((failure as UpstreamFailure).kind).toBe('first-byte-timeout');
    } finally {
      await upstream.close();
    }
  });

  it('rejects with the signal reason when aborted before headers', async () => {
    const upstream = createUpstream({ baseUrl: server.url, ...timeouts });
    const ctl = new AbortController();
    const reason = new Error('stop');
    try {
      const pending = upstream.request({ method: 'GET', path: '/silent', signal: ctl.signal });
      setTimeout(() => ctl.abort(reason), 20);
      await expect(pending).rejects.toBe(reason);
    } finally {
      await upstream.close();
    }
  });

  it('reports a closed port as refused', async () => {
    const gone = await startFakeServer(async () => undefined);
    const url = gone.url;
    await gone.close();
    const upstream = createUpstream({ baseUrl: url, ...timeouts });
    try {
      await expect(upstream.request({ method: 'GET', path: '/', signal: never })).rejects.toMatchObject({ kind: 'refused' });
    } finally {
      await upstream.close();
    }
  });
});
