import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import { createUpstream, type Upstream } from './http-agent.ts';
import { startFakeServer, type FakeServer } from '../../test/fakes/http/fake-server.ts';
import { never, WordDecoder, wordCall } from '../../test/support/word-decoder.ts';
import { SseParser } from './sse-parser.ts';
import { pumpSse } from './sse-stream.ts';
import { PushCall } from './push-call.ts';

const call = wordCall;
const keep = () => true;

describe('PushCall (streaming engine calls through undici dispatch)', () => {
  let server: FakeServer;
  let upstream: Upstream;
  let single: Upstream;
  beforeAll(async () => {
    server = await startFakeServer(async (ex) => {
      const path = ex.record.path;
      if (path === '/teapot') return ex.json(418, { error: 'x'.repeat(20_000) });
      ex.res.writeHead(200, { 'content-type': 'text/event-stream', 'x-limit': '9' });
      await ex.write('data: a\n\n');
      if (path === '/tail') return void ex.res.end(`data: END\n\n: ${'p'.repeat(100)}\n\n`);
      if (path === '/flood') {
        await ex.write('data: END\n\n');
        for (let i = 0; i < 40 && ex.isOpen(); i++) await ex.write(`: ${'p'.repeat(4_000)}\n\n`);
        return void (await ex.closed);
      }
      if (path === '/silent') return void (await ex.closed);
      await ex.closed;
    });
    upstream = createUpstream({ baseUrl: server.url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });
    single = createUpstream({ baseUrl: server.url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000, maxConnections: 1 });
  });
  afterAll(async () => {
    await upstream.close();
    await single.close();
    await server.close();
  });

  it('an abort from outside rejects with its reason and the engine sees the request go', async () => {
    const index = server.seen.length;
    const ac = new AbortController();
    const reason = new Error('client left');
    const pumping = pumpSse(upstream, call('/hang'), new WordDecoder(), ac.signal, (items) => {
      if (items[0] === 'a') setTimeout(() => ac.abort(reason), 5);
      return true;
    });
    await expect(pumping).rejects.toBe(reason);
    expect(await server.settled(index)).toMatchObject({ aborted: true });
  });

  it('an abort caused inside the sink rejects with its reason and cuts the engine call', async () => {
    const index = server.seen.length;
    const ac = new AbortController();
    const reason = new Error('task failed');
    const pumping = pumpSse(upstream, call('/hang'), new WordDecoder(), ac.signal, () => {
      ac.abort(reason);
      return true;
    });
    await expect(pumping).rejects.toBe(reason);
    expect(await server.settled(index)).toMatchObject({ aborted: true });
  });

  it('a call aborted while queued for a socket rejects at once and never reaches the engine', async () => {
    const holder = new AbortController();
    const first = pumpSse(single, call('/hang'), new WordDecoder(), holder.signal, keep).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const seenBefore = server.seen.length;
    const ac = new AbortController();
    const queued = pumpSse(single, call('/queued'), new WordDecoder(), ac.signal, keep);
    ac.abort(new Error('gone while queued'));
    await expect(queued).rejects.toThrow('gone while queued');
    holder.abort(new Error('done'));
    await first;
    await new Promise((r) => setTimeout(r, 50));
    expect(server.seen.slice(seenBefore).map((s) => s.path)).not.toContain('/queued');
  });

  it('an already aborted signal sends nothing', async () => {
    const before = server.seen.length;
    const ac = new AbortController();
    ac.abort(new Error('before start'));
    await expect(pumpSse(upstream, call('/never'), new WordDecoder(), ac.signal, keep)).rejects.toThrow('before start');
    expect(server.seen.length).toBe(before);
  });

  it('keeps the socket after a short tail behind the terminal event, cuts a long one', async () => {
    await pumpSse(upstream, call('/tail'), new WordDecoder(), never, keep);
    await new Promise((r) => setTimeout(r, 20));
    const tail = server.seen.at(-1);
    expect(tail).toMatchObject({ path: '/tail', aborted: false });
    const index = server.seen.length;
    const got: string[] = [];
    await pumpSse(upstream, call('/flood'), new WordDecoder(), never, (items) => (got.push(...items), true));
    expect(got).toEqual(['a', 'END']);
    expect(await server.settled(index)).toMatchObject({ aborted: true });
  });

  it('reads at most 8 KiB of a non-2xx answer and hands status and headers to onResponse first', async () => {
    const seen: Array<[number, unknown]> = [];
    const failure = await pumpSse(upstream, { ...call('/teapot'), onResponse: (status, headers) => void seen.push([status, headers['content-type']]) }, new WordDecoder(), never, keep).catch((e: unknown) => e);
    expect(failure).toMatchObject({ kind: 'status', status: 418 });
    expect((failure as { bodyText: string }).bodyText).toHaveLength(8 * 1024);
    expect(seen).toEqual([[418, 'application/json; charset=utf-8']]);
  });

  it('rejects with what onResponse threw and cuts the call', async () => {
    const index = server.seen.length;
    const thrown = new Error('bad rate-limit header');
    const failing = { ...call('/hang'), onResponse: () => { throw thrown; } };
    await expect(pumpSse(upstream, failing, new WordDecoder(), never, keep)).rejects.toBe(thrown);
    expect(await server.settled(index)).toMatchObject({ aborted: true });
  });

  it('reports a silent body as an idle timeout', async () => {
    const quick = createUpstream({ baseUrl: server.url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 100 });
    try {
      const failure = await pumpSse(quick, call('/silent'), new WordDecoder(), never, keep).catch((e: unknown) => e);
      expect(failure).toMatchObject({ kind: 'idle-timeout' });
    } finally {
      await quick.close();
    }
  });

  it('leaves no raw response head on the call once the head was handled', async () => {
    const raw: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const push = new PushCall({ framer: new SseParser(), decoder: new WordDecoder(), terminal: 'event' }, call('/tail'), never, keep, { resolve, reject });
      const spy: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => push.onRequestStart(c),
        onResponseStart: (c, status, headers) => (push.onResponseStart(c, status, headers), void raw.push(c.rawHeaders)),
        onResponseData: (c, chunk) => push.onResponseData(c, chunk),
        onResponseEnd: () => push.onResponseEnd(),
        onResponseError: (c, err) => push.onResponseError(c, err),
      };
      upstream.dispatch({ method: 'POST', path: '/tail', body: '{}' }, spy);
    });
    expect(raw).toEqual([null]);
  });
});
