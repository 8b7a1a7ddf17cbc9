import { describe, expect, it } from 'vitest';
import { goldenFixtures, replayOutcome, splits } from '../../../test/support/adapter-test-kit.ts';
import { EngineError, type CanonicalEvent } from '../contract.ts';
import { decodeTgiInfo, decodeTgiMessage, TgiStreamDecoder } from './decode.ts';
import { tgiError, tgiErrorPolicy } from './errors.ts';

const fixtures = goldenFixtures(new URL('./fixtures/', import.meta.url));
const policy = tgiErrorPolicy(1_000);
const replay = (chunks: Uint8Array[]) => replayOutcome(new TgiStreamDecoder(), chunks, (err, tokens) => tgiError(err, tokens, policy));

const msg = (data: string) => ({ event: undefined, data, id: undefined, retry: undefined });

describe('TGI golden fixtures', () => {
  it('has fixtures to replay', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(6);
  });

  for (const { name, bytes, expected } of fixtures) {
    it(`${name}: decodes to the expected canonical events`, async () => {
      expect(await replay([bytes])).toEqual(expected);
    });

    // ORCH-0605
    it(`${name}: gives identical events when split at every byte boundary`, async () => {
      for (const chunks of splits(bytes)) expect(await replay(chunks)).toEqual(expected);
    });
  }
});

describe('decodeTgiMessage', () => {
  it('ignores empty data and named events it does not know', () => {
    expect(decodeTgiMessage(msg(''))).toEqual({ kind: 'ignore' });
    expect(decodeTgiMessage({ ...msg('{"x":1}'), event: 'ping' })).toEqual({ kind: 'ignore' });
  });

  it('gives special tokens no text', () => {
    expect(decodeTgiMessage(msg('{"index":1,"token":{"id":0,"text":"<pad>","logprob":0,"special":true},"generated_text":null,"details":null}')))
      .toEqual({ kind: 'ignore' });
  });

  it('treats a final event without details as a natural stop', () => {
    expect(decodeTgiMessage(msg('{"index":2,"token":{"id":5,"text":"!","logprob":0,"special":false},"generated_text":"hi!","details":null}')))
      .toEqual({ kind: 'final', text: '!', end: { type: 'end', finishReason: 'stop' } });
  });

  it('reports an unreadable event as an error rather than skipping it', () => {
    expect(decodeTgiMessage(msg('{"index":'))).toMatchObject({ kind: 'error', error: { type: 'unreadable_event' } });
  });
});

describe('decodeTgiInfo', () => {
  const info = { model_id: 'org/m', version: '3.3.6', max_total_tokens: 4096, max_concurrent_requests: 32, max_input_tokens: 4095, sha: 'x' };

  it('maps /info to engine facts', () => {
    expect(decodeTgiInfo(info, false)).toEqual({
      ok: true,
      props: { engineVersion: '3.3.6', model: 'org/m', ctxMax: 4096, slotsTotal: 32, deterministic: false },
    });
  });

  it('names the missing field', () => {
    expect(decodeTgiInfo({ ...info, max_total_tokens: undefined }, false)).toEqual({ ok: false, field: 'max_total_tokens' });
    expect(decodeTgiInfo(undefined, false)).toMatchObject({ ok: false });
  });
});

describe('TgiStreamDecoder', () => {
  it('is an EngineError source only through tgiError: mid-stream failures count the tokens before them', () => {
    const decoder = new TgiStreamDecoder();
    const out: CanonicalEvent[] = [];
    decoder.push(msg('{"index":1,"token":{"id":9,"text":" a","logprob":0,"special":false},"generated_text":null,"details":null}'), out);
    const wire = decoder.push(msg('{"error":"boom","error_type":"generation"}'), out);
    expect(wire).toEqual({ type: 'generation', message: 'boom' });
    expect(decoder.tokens).toBe(1);
    expect(tgiError(new EngineError('WORKER_RESET', 'x'), 1, policy).code).toBe('WORKER_RESET');
  });
});
