import { describe, expect, it } from 'vitest';
import { EngineError } from '../contract.ts';
import { createUpstream } from '../../transport/http-agent.ts';
import { startFakeServer } from '../../../test/fakes/http/fake-server.ts';
import { createProber } from './probe.ts';
import { toEngineError, type ErrorPolicy } from './error-map.ts';

const never = new AbortController().signal;
const policy: ErrorPolicy = { engine: 'test', isLoading: () => false, overloadRetryAfterMs: 100 };
const errors = (err: unknown) => toEngineError(err, 0, policy);
const backoff = { attempts: 3, baseMs: 1, capMs: 5 };
const upstreamOf = (url: string) => createUpstream({ baseUrl: url, connectTimeoutMs: 500, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });
const ready = (res: { status: number }) => ({ live: true, ready: res.status === 200 });

describe('createProber', () => {
  // ORCH-0602
  it('retries a reset with backoff and then reports the answer', async () => {
    const server = await startFakeServer(async (ex) => (server.seen.length <= 2 ? ex.reset() : ex.json(200, {})));
    const upstream = upstreamOf(server.url);
    try {
      expect(await createProber(upstream, {}, backoff, errors).health('/health', never, ready)).toEqual({ live: true, ready: true });
      expect(server.seen).toHaveLength(3);
    } finally {
      await upstream.close();
      await server.close();
    }
  });

  it('gives up after the attempts and reports the engine as not live, without throwing', async () => {
    const server = await startFakeServer(async (ex) => ex.reset());
    const upstream = upstreamOf(server.url);
    try {
      expect(await createProber(upstream, {}, backoff, errors).health('/health', never, ready)).toEqual({ live: false, ready: false, detail: 'connection reset' });
      expect(server.seen).toHaveLength(3);
    } finally {
      await upstream.close();
      await server.close();
    }
  });

  it('does not retry an HTTP error status, and getOk maps it to the taxonomy', async () => {
    const server = await startFakeServer(async (ex) => ex.json(503, { error: { message: 'busy', code: 503 } }));
    const upstream = upstreamOf(server.url);
    try {
      const failure = await createProber(upstream, {}, backoff, errors).getOk('/props', never).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(EngineError);
      expect(failure).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 100 });
      expect(server.seen).toHaveLength(1);
    } finally {
      await upstream.close();
      await server.close();
    }
  });
});
