import { describe, expect, it } from 'vitest';
import { goldenFixtures, replayOutcome, splits, type ReplayOutcome } from '../../../test/support/adapter-test-kit.ts';
import type { CanonicalEvent } from '../contract.ts';
import { decodeTritonFacts, TritonStreamDecoder } from './decode.ts';
import { tritonError, tritonErrorPolicy } from './errors.ts';
import { TRITON_PROFILES, tritonWire } from './options.ts';

interface Expected extends ReplayOutcome {
  profile: 'ensemble' | 'llmapi';
  maxTokens: number;
}

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = tritonErrorPolicy(1_000);
const replay = (chunks: Uint8Array[], profile: Expected['profile'], maxTokens: number) =>
  replayOutcome(new TritonStreamDecoder(TRITON_PROFILES[profile], maxTokens), chunks, (err, tokens) => tritonError(err, tokens, policy));

const msg = (data: string) => ({ event: undefined, data, id: undefined, retry: undefined });

describe('Triton golden fixtures', () => {
  it('has fixtures to replay', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(6);
  });

  for (const fixture of fixtures) {
    const { profile, maxTokens, ...expected } = fixture.expected as Expected;

    it(`${fixture.name}: decodes to the expected canonical events`, async () => {
      expect(await replay([fixture.bytes], profile, maxTokens)).toEqual(expected);
    });

    // ORCH-0605
    it(`${fixture.name}: gives identical events when split at every byte boundary`, async () => {
      for (const chunks of splits(fixture.bytes)) expect(await replay(chunks, profile, maxTokens)).toEqual(expected);
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
