import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstream, type Upstream } from './http-agent.ts';
import { startFakeServer, type FakeServer } from '../../test/fakes/http/fake-server.ts';
import { never, WordDecoder, wordCall } from '../../test/support/word-decoder.ts';
import { pumpSse, streamSse } from './sse-stream.ts';
import { UpstreamFailure } from './upstream-failure.ts';

const call = wordCall;

async function run(upstream: Upstream, path: string): Promise<{ items: string[]; error: unknown }> {
  const items: string[] = [];
  try {
    for await (const item of streamSse(upstream, call(path), new WordDecoder(), never)) items.push(item);
    return { items, error: undefined };
  } catch (error) {
    return { items, error };
  }
}

describe('streamSse', () => {
  let server: FakeServer;
  let upstream: Upstream;
  beforeAll(async () => {
    server = await startFakeServer(async (ex) => {
      const path = ex.record.path;
      if (path === '/busy') return ex.json(503, { error: 'busy' }, { 'retry-after': '2' });
      ex.res.writeHead(200, { 'content-type': 'text/event-stream' });
      await ex.write('data: a\n\n: ping\n\ndata: b\n\n');
      if (path === '/ok') return void ex.res.end('data: END\n\n');
      if (path === '/linger') return void (await ex.write('data: END\n\n'), await ex.closed);
      if (path === '/error') return void ex.res.end('data: ERR\n\ndata: [DONE]\n\n');
      if (path === '/slow') return void (await ex.write('data: c\n\n'), await ex.closed);
      ex.res.end();
    });
    upstream = createUpstream({ baseUrl: server.url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  it('yields decoded items and reuses the socket for the next stream', async () => {
    expect(await run(upstream, '/ok')).toEqual({ items: ['a', 'b', 'END'], error: undefined });
    await new Promise((r) => setImmediate(r));
    await run(upstream, '/ok');
    const [first, second] = server.seen.slice(-2);
    expect(second?.remotePort).toBe(first?.remotePort);
  });

  it('returns at the terminal event even if the engine keeps the connection open', async () => {
    const { items, error } = await run(upstream, '/linger');
    expect(error).toBeUndefined();
    expect(items).toEqual(['a', 'b', 'END']);
  });

  it('throws an in-band failure after the items before it', async () => {
    const { items, error } = await run(upstream, '/error');
    expect(items).toEqual(['a', 'b']);
    expect(error).toMatchObject({ kind: 'in-band', inBand: { message: 'bad' } });
  });

  it('throws truncated when the body ends without the terminal event', async () => {
    const { items, error } = await run(upstream, '/cut');
    expect(items).toEqual(['a', 'b']);
    expect(error).toBeInstanceOf(UpstreamFailure);
    expect(error).toMatchObject({ kind: 'truncated' });
  });

  it('throws a status failure with the body text and Retry-After', async () => {
    const { error } = await run(upstream, '/busy');
    expect(error).toMatchObject({ kind: 'status', status: 503, retryAfterMs: 2_000, bodyText: '{"error":"busy"}' });
  });

  it('leaving the loop early cuts an unfinished body', async () => {
    const index = server.seen.length;
    for await (const item of streamSse(upstream, call('/slow'), new WordDecoder(), never)) {
      if (item === 'c') break;
    }
    expect(await server.settled(index)).toMatchObject({ aborted: true });
  });
});

describe('pumpSse', () => {
  let server: FakeServer;
  let upstream: Upstream;
  beforeAll(async () => {
    server = await startFakeServer(async (ex) => {
      ex.res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Three messages in one write: one body read.
      await ex.write('data: a\n\ndata: b\n\ndata: c\n\n');
      if (ex.record.path === '/ok') return void ex.res.end('data: END\n\n');
      await ex.closed;
    });
    upstream = createUpstream({ baseUrl: server.url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await upstream.close();
    await server.close();
  });

  it('hands each body read to the sink in one call and resolves after the terminal event', async () => {
    const reads: string[][] = [];
    await pumpSse(upstream, call('/ok'), new WordDecoder(), never, (items) => {
      reads.push([...items]);
      return true;
    });
    expect(reads.flat()).toEqual(['a', 'b', 'c', 'END']);
    expect(reads[0]).toEqual(['a', 'b', 'c']);
  });

  it('stops and cuts the body when the sink returns false', async () => {
    const index = server.seen.length;
    const got: string[] = [];
    await pumpSse(upstream, call('/hang'), new WordDecoder(), never, (items) => {
      got.push(...items);
      return false;
    });
    expect(got).toEqual(['a', 'b', 'c']);
    expect(await server.settled(index)).toMatchObject({ aborted: true });
  });

  it('rejects with the signal reason when aborted mid-stream', async () => {
    const ac = new AbortController();
    const reason = new Error('task canceled');
    const pumping = pumpSse(upstream, call('/hang'), new WordDecoder(), ac.signal, () => {
      ac.abort(reason);
      return true;
    });
    await expect(pumping).rejects.toBe(reason);
  });
});
