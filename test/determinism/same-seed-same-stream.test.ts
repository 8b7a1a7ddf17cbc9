// ORCH-0607: on a deterministic pool the same prompt and seed give byte-identical streams on
// every replica, and another seed changes the stream. 64 seeds, two replicas each of the
// built-in mock and of the llama.cpp fake, compared on the raw SSE bytes of the token events.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

const SEEDS = Array.from({ length: 64 }, (_, i) => i * 7_919 + 1);
const PROMPT = 'Once upon a time, in a café in Zürich,';
const MAX_TOKENS = 8;

let gw: TestGateway;
let fakes: LlamacppFake[];
beforeAll(async () => {
  fakes = await Promise.all([startLlamacppFake({ slots: 4 }), startLlamacppFake({ slots: 4 })]);
  gw = await startGateway(
    testConfig({
      pools: [
        mockPool({ id: 'mock', model: 'mock', replicas: [{ id: 'm0', slots: 4 }, { id: 'm1', slots: 4 }] }),
        { id: 'llama', engine: 'llamacpp', model: 'llama', replicas: fakes.map((f, i) => ({ id: `l${i}`, url: f.url })) },
      ],
    }),
  );
});
afterAll(async () => {
  await gw.close();
  await Promise.all(fakes.map((f) => f.close()));
});

/** The raw `data:` lines of the token events of one task's SSE stream, byte for byte. */
async function tokenBytes(model: string, replica: string, seed: number): Promise<string[]> {
  const res = await request(`${gw.url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ model, prompt: PROMPT, max_tokens: MAX_TOKENS, seed, placement: { pin: replica } }),
  });
  const raw = await res.body.text();
  expect(res.statusCode, raw).toBe(200);
  const blocks = raw.split('\n\n');
  expect(blocks.some((b) => /^event: end$/m.test(b)), raw).toBe(true);
  expect(blocks.some((b) => /^event: started$/m.test(b) && b.includes(`"replica_id":"${replica}"`)), raw).toBe(true);
  return blocks.filter((b) => /^event: token$/m.test(b)).map((b) => /^data: (.*)$/m.exec(b)?.[1] ?? '');
}

describe.each([
  ['mock', ['m0', 'm1']],
  ['llama', ['l0', 'l1']],
] as const)('%s pool', (model, [first, second]) => {
  // ORCH-0607
  it('gives byte-identical token streams on both replicas for each of 64 seeds, and another seed changes the stream', async () => {
    const bySeed = new Map<number, string[]>();
    for (let i = 0; i < SEEDS.length; i += 8) {
      await Promise.all(
        SEEDS.slice(i, i + 8).map(async (seed) => {
          const [a, b] = await Promise.all([tokenBytes(model, first, seed), tokenBytes(model, second, seed)]);
          expect(a).toHaveLength(MAX_TOKENS);
          expect(b, `seed ${seed}`).toEqual(a);
          bySeed.set(seed, a);
        }),
      );
    }
    for (let i = 1; i < SEEDS.length; i++) {
      expect(bySeed.get(SEEDS[i] as number), `seeds ${SEEDS[i - 1]} and ${SEEDS[i]}`).not.toEqual(bySeed.get(SEEDS[i - 1] as number));
    }
    expect(new Set([...bySeed.values()].map((s) => s.join('\n'))).size).toBe(SEEDS.length);
  });
});
