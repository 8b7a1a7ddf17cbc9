// Which stop sequence ended the answer, end to end: the official `@anthropic-ai/sdk` against a
// real gateway whose vLLM fake stops on a client stop sequence and names it (`stop_reason` on
// the finish chunk) answers `stop_reason: "stop_sequence"` with the string, streaming and not;
// a llama.cpp chat pool, whose chat wire does not say which stop matched, answers `end_turn`;
// `/v1/tasks` on llama.cpp's `/completion` (`stopping_word`) carries it in `end` and the status.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Anthropic from '@anthropic-ai/sdk';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { FAKE_VOCAB } from '../fakes/http/fake-tokens.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { anthropicClient, clientTransport } from '../support/dialect-clients.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { terminalRecord } from '../../src/audit/records.ts';
import type { TerminalFact } from '../../src/core/observer.ts';
import { openStream, terminal, tokens } from '../support/sse-client.ts';
import { waitFor } from './engines-support.ts';

const health = { interval_ms: 50, max_backoff_ms: 200, breaker_failures: 3, breaker_open_ms: 500 };
const transport = clientTransport();
let gw: TestGateway;
let vllm: VllmFake;
let llama: LlamacppFake;
const finished: TerminalFact[] = [];

beforeAll(async () => {
  vllm = await startVllmFake({ tokensPerS: 0 });
  llama = await startLlamacppFake({ slots: 2 });
  gw = await startGateway(
    testConfig({
      pools: [
        { id: 'vllm', engine: 'vllm', model: 'vllm', engine_model: 'fake-model', health, replicas: [{ id: 'v0', url: vllm.url, options: { retry_attempts: 1, max_num_seqs: 4 } }] },
        { id: 'local', engine: 'llamacpp', model: 'local', health, replicas: [{ id: 'l0', url: llama.url, options: { retry_attempts: 1 } }] },
      ],
    }),
    { observers: [{ finished: (fact) => finished.push(fact) }] },
  );
  for (const id of ['vllm', 'local']) {
    await waitFor(async () => ((await gw.get(`/v1/pools/${id}`)).body as { ready?: boolean }).ready === true, 10_000, `pool ${id} ready`);
  }
});
afterAll(async () => {
  await transport.close();
  await gw?.close();
  await Promise.all([vllm?.close(), llama?.close()]);
});

const client = () => anthropicClient(gw, { fetch: transport.fetch });
// The fakes' sampling is unseeded through this dialect: any of eight common words ends a
// 64-token answer (the chance that none appears is below 1e-9).
const STOPS = FAKE_VOCAB.slice(0, 8);
const ask = { max_tokens: 64, stop_sequences: STOPS, messages: [{ role: 'user' as const, content: 'Tell me about foxes.' }] };
const textOf = (content: Anthropic.Messages.ContentBlock[]) => content.map((b) => (b.type === 'text' ? b.text : '')).join('');

async function statusOf(taskId: string | null): Promise<Record<string, unknown>> {
  expect(taskId).toBeTruthy();
  return (await gw.get(`/v1/tasks/${taskId}`)).body as Record<string, unknown>;
}

describe('an engine that names the stop sequence that matched', () => {
  // ORCH-1108
  it('answers a non-streaming message with stop_reason stop_sequence and the string the vLLM fake matched', async () => {
    const { data, response } = await client().messages.create({ model: 'vllm', ...ask }).withResponse();
    expect(data.stop_reason).toBe('stop_sequence');
    expect(STOPS).toContain(data.stop_sequence);
    // vLLM leaves the stop string out of the text.
    expect(textOf(data.content)).not.toContain(data.stop_sequence);
    expect(await statusOf(response.headers.get('x-task-id'))).toMatchObject({ state: 'completed', finish_reason: 'stop', stop_sequence: data.stop_sequence });
    const sent = vllm.seen.findLast((s) => s.path === '/v1/chat/completions')?.body as { stop?: unknown };
    expect(sent.stop).toEqual(STOPS);
  });

  // ORCH-1108
  it('streams message_delta with stop_reason stop_sequence and the string, as the SDK stream helper reads it', async () => {
    const { data: stream, response } = await client().messages.create({ model: 'vllm', ...ask, stream: true }).withResponse();
    const deltas: Array<{ stop_reason: string | null; stop_sequence: string | null }> = [];
    for await (const event of stream) if (event.type === 'message_delta') deltas.push(event.delta);
    expect(deltas).toHaveLength(1);
    expect(deltas[0]?.stop_reason).toBe('stop_sequence');
    expect(STOPS).toContain(deltas[0]?.stop_sequence);
    expect(await statusOf(response.headers.get('x-task-id'))).toMatchObject({ stop_sequence: deltas[0]?.stop_sequence });

    const final = await client().messages.stream({ model: 'vllm', ...ask }).finalMessage();
    expect(final.stop_reason).toBe('stop_sequence');
    expect(STOPS).toContain(final.stop_sequence);
  });
});

describe('an engine whose wire does not say which stop matched', () => {
  // ORCH-1108
  it('answers end_turn with stop_sequence null from a llama.cpp chat pool that stopped on one', async () => {
    const { data, response } = await client().messages.create({ model: 'local', ...ask }).withResponse();
    expect(data).toMatchObject({ stop_reason: 'end_turn', stop_sequence: null });
    const status = await statusOf(response.headers.get('x-task-id'));
    expect(status).toMatchObject({ state: 'completed', finish_reason: 'stop' });
    expect(status).not.toHaveProperty('stop_sequence');
    expect(data.usage.output_tokens).toBeLessThan(64);
  });
});

describe('/v1/tasks on llama.cpp /completion', () => {
  it("carries the fake's stopping_word in the end event and the task status", async () => {
    const body = { model: 'local', prompt: 'once upon a time', max_tokens: 12, seed: 7 };
    const whole = tokens((await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body })).events);
    const stop = whole[4] ?? '';
    expect(stop).not.toBe('');
    const cut = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { ...body, stop: ['never appears', stop] } });
    expect(terminal(cut.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'stop', stop_sequence: stop }) })]);
    const ended = terminal(cut.events)[0]?.data as { tokens_out: number };
    expect(ended.tokens_out).toBeLessThan(12);
    // The audit's terminal row records it too (what GET /v1/tasks/{id} answers from once the task has left memory).
    const fact = finished.find((f) => f.stop_sequence === stop);
    expect(fact).toMatchObject({ state: 'completed', finish_reason: 'stop' });
    expect(terminalRecord(fact as TerminalFact, new Date(0)).data).toMatchObject({ finish_reason: 'stop', stop_sequence: stop });
  });
});
