import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Upstream, UpstreamBody } from '../../transport/http-agent.ts';
import { streamSse } from '../../transport/sse-stream.ts';
import type { CanonicalEvent } from '../contract.ts';
import { decodeTritonFacts, TritonStreamDecoder } from './decode.ts';
import { tritonError, tritonErrorPolicy } from './errors.ts';
import { TRITON_PROFILES, tritonWire } from './options.ts';

interface Outcome {
  events: CanonicalEvent[];
  error?: { code: string; retryAfterMs?: number; upstreamDetail?: string };
}
interface Expected extends Outcome {
  profile: 'ensemble' | 'llmapi';
  maxTokens: number;
}

const FIXTURES = new URL('./fixtures/', import.meta.url);
const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.sse')).map((f) => f.slice(0, -'.sse'.length));
const policy = tritonErrorPolicy(1_000);

/** An upstream that answers 200 with the given body chunks: the adapter's real stream loop runs on it. */
function replayUpstream(chunks: Uint8Array[]): Upstream {
  return {
    request: async () => ({ status: 200, headers: {}, body: Readable.from(chunks) as unknown as UpstreamBody /* only iterated and destroyed */ }),
    close: async () => {},
  };
}

async function replay(chunks: Uint8Array[], profile: Expected['profile'], maxTokens: number): Promise<Outcome> {
  const decoder = new TritonStreamDecoder(TRITON_PROFILES[profile], maxTokens);
  const events: CanonicalEvent[] = [];
  const call = { path: '/v2/models/m/generate_stream', body: '{}', headers: {} };
  try {
    for await (const event of streamSse(replayUpstream(chunks), call, decoder, new AbortController().signal)) events.push(event);
    return { events };
  } catch (err) {
    const mapped = tritonError(err, decoder.tokens, policy);
    const error: Outcome['error'] = { code: mapped.code, upstreamDetail: mapped.upstreamDetail };
    if (mapped.retryAfterMs !== undefined) error.retryAfterMs = mapped.retryAfterMs;
    return { events, error };
  }
}

const msg = (data: string) => ({ event: undefined, data, id: undefined, retry: undefined });

describe('Triton golden fixtures', () => {
  it('has fixtures to replay', () => {
    expect(names.length).toBeGreaterThanOrEqual(6);
  });

  for (const name of names) {
    const bytes = new Uint8Array(readFileSync(new URL(`${name}.sse`, FIXTURES)));
    const { profile, maxTokens, ...expected } = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Expected;

    it(`${name}: decodes to the expected canonical events`, async () => {
      expect(await replay([bytes], profile, maxTokens)).toEqual(expected);
    });

    // ORCH-0605
    it(`${name}: gives identical events when split at every byte boundary`, async () => {
      for (let cut = 1; cut < bytes.length; cut++) {
        expect(await replay([bytes.subarray(0, cut), bytes.subarray(cut)], profile, maxTokens)).toEqual(expected);
      }
      expect(await replay(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)), profile, maxTokens)).toEqual(expected);
    });
  }
});

describe('TritonStreamDecoder', () => {
  it('reads the configured output tensor and ignores the default one', () => {
    const decoder = new TritonStreamDecoder(tritonWire({ profile: 'ensemble', output_name: 'OUTPUT_TEXT' }), 4);
    const out: CanonicalEvent[] = [];
    decoder.push(msg('{"text_output":"ignored","OUTPUT_TEXT":" kept"}'), out);
    expect(out).toEqual([{ type: 'token', text: ' kept' }]);
  });

  it('counts steps without text toward the length inference but emits nothing for them', () => {
    const decoder = new TritonStreamDecoder(TRITON_PROFILES.ensemble, 2);
    const out: CanonicalEvent[] = [];
    decoder.push(msg('{"text_output":""}'), out);
    decoder.push(msg('{"text_output":" a"}'), out);
    decoder.finish(out);
    expect(out).toEqual([{ type: 'token', text: ' a' }, { type: 'end', finishReason: 'length' }]);
    expect(decoder.tokens).toBe(1);
  });

  it('returns in-band errors and unreadable events instead of skipping them', () => {
    const decoder = new TritonStreamDecoder(TRITON_PROFILES.ensemble, 2);
    expect(decoder.push(msg('{"error":"boom"}'), [])).toEqual({ message: 'boom' });
    expect(decoder.push(msg('[1,2'), [])).toMatchObject({ type: 'unreadable_event' });
  });
});

describe('decodeTritonFacts', () => {
  const server = { name: 'triton', version: '2.51.0', extensions: [] };
  const model = { name: 'ensemble', versions: ['1'], platform: 'ensemble', inputs: [{ name: 'text_input' }], outputs: [{ name: 'text_output' }] };
  const known = { ctxMax: 4096, slotsTotal: 16, deterministic: false };

  it('combines server version, model name and the configured facts', () => {
    expect(decodeTritonFacts(server, model, TRITON_PROFILES.ensemble, known)).toEqual({
      ok: true,
      props: { engineVersion: '2.51.0', model: 'ensemble', ctxMax: 4096, slotsTotal: 16, deterministic: false },
    });
  });

  it('refuses a model that lacks the configured tensors', () => {
    expect(decodeTritonFacts(server, model, tritonWire({ profile: 'ensemble', output_name: 'OUT' }), known)).toEqual({ ok: false, field: 'output tensor OUT' });
    expect(decodeTritonFacts(server, model, TRITON_PROFILES.llmapi, known)).toEqual({ ok: true, props: expect.anything() });
    expect(decodeTritonFacts({}, model, TRITON_PROFILES.ensemble, known)).toEqual({ ok: false, field: 'server version' });
  });
});
