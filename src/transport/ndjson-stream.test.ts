import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeServer, type FakeServer } from '../../test/fakes/http/fake-server.ts';
import { createUpstream, type Upstream } from './http-agent.ts';
import type { NdjsonItem } from './ndjson-parser.ts';
import { streamNdjson, type NdjsonDecoder } from './ndjson-stream.ts';
import { UpstreamFailure } from './upstream-failure.ts';

/** Yields each line's `t`; `{"end":true}` completes; `{"err":"x"}` is an in-band error. */
class LineDecoder implements NdjsonDecoder<string> {
  complete = false;
  push(item: NdjsonItem, out: string[]) {
    if (!item.ok) return { message: 'not json' };
    const v = item.value as { t?: string; end?: boolean; err?: string }; // the server below writes only these shapes
    if (v.err !== undefined) return { message: v.err };
    if (v.end === true) this.complete = true;
    if (v.t !== undefined) out.push(v.t);
    return undefined;
  }
  finish() {
    return this.complete;
  }
}

const bodies: Record<string, [number, string]> = {
  '/whole': [200, '{"t":"a"}\n{"t":"é"}\n{"end":true}\n'],
  '/truncated': [200, '{"t":"a"}\n'],
  '/in-band': [200, '{"t":"a"}\n{"err":"boom"}\n'],
  '/status': [503, '{"error":"server busy, please try again.  maximum pending requests exceeded"}'],
  '/after-end': [200, '{"end":true}\n{"t":"ignored"}\n'],
};

describe('streamNdjson', () => {
  let server: FakeServer;
  let upstream: Upstream;
  beforeAll(async () => {
    server = await startFakeServer(async (ex) => {
      const [status, text] = bodies[ex.record.path] ?? [404, ''];
      ex.res.writeHead(status, { 'content-type': 'application/x-ndjson' });
      ex.res.end(text);
    }, { splitChunks: () => true });
    upstream = createUpstream({ baseUrl: server.url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  const run = async (path: string) => {
    const out: string[] = [];
    try {
      for await (const t of streamNdjson(upstream, { path, body: '{}', headers: {} }, new LineDecoder(), new AbortController().signal)) out.push(t);
      return { out };
    } catch (error) {
      return { out, error };
    }
  };

  it('yields every line of a whole stream, split inside UTF-8, and stops at the terminal line', async () => {
    expect(await run('/whole')).toEqual({ out: ['a', 'é'] });
    expect(await run('/after-end')).toEqual({ out: [] });
  });

  it('reports a body cut before its terminal line as truncated', async () => {
    const { out, error } = await run('/truncated');
    expect(out).toEqual(['a']);
    expect(error).toBeInstanceOf(UpstreamFailure);
    expect(error).toMatchObject({ kind: 'truncated' });
  });

  it('reports an in-band error with the status already sent, and a non-2xx with its body', async () => {
    expect((await run('/in-band')).error).toMatchObject({ kind: 'in-band', status: 200, inBand: { message: 'boom' } });
    expect((await run('/status')).error).toMatchObject({ kind: 'status', status: 503, bodyText: expect.stringContaining('server busy') });
  });
});
