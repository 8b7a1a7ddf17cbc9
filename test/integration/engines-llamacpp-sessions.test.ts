// llama.cpp sessions through the gateway: the session learns the engine slot that served a turn
// (`id_slot` on the final event), the next turn pins that slot with `cache_prompt`, and the
// engine's reported prompt-cache reuse (`timings.cache_n`) turns kv_warmth hot.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, tokens } from '../support/sse-client.ts';
import { generations, kit } from './engines-support.ts';

let gw: TestGateway;
let fakes: LlamacppFake[];
beforeAll(async () => {
  fakes = await Promise.all([startLlamacppFake({ slots: 4 }), startLlamacppFake({ slots: 4 })]);
  gw = await startGateway(testConfig({ pools: [{ id: 'lc', engine: 'llamacpp', model: 'lc', replicas: fakes.map((f, i) => ({ id: `r${i}`, url: f.url })) }] }));
});
afterAll(async () => {
  await gw.close();
  await Promise.all(fakes.map((f) => f.close()));
});

const turn = async (session: string, prompt: string, extra: Record<string, unknown> = {}) => {
  const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'lc', prompt, max_tokens: 6, seed: 3, session_id: session, ...extra } });
  expect(stream.events.at(-1)?.event).toBe('end');
  return tokens(stream.events).join('');
};

const first = 'You are a helpful assistant. Tell me about foxes.';

describe('llama.cpp session turns', () => {
  // ORCH-0307
  it('asks the engine to keep the prompt cache and reports kv_warmth hot once the next turn reuses it', async () => {
    const answer = await turn('chat-1', first);
    const afterOne = (await gw.get('/v1/sessions/chat-1')).body as { kv_warmth: string; replica_id: string };
    expectResponseMatches('getSession', 200, afterOne);
    expect(afterOne.kv_warmth).toBe('warm');
    const fake = fakes[Number(afterOne.replica_id.slice(1))] as LlamacppFake;
    await turn('chat-1', `${first}${answer} And about dogs?`);
    const afterTwo = (await gw.get('/v1/sessions/chat-1')).body as { kv_warmth: string; turns: number; replica_id: string };
    expect(afterTwo).toMatchObject({ kv_warmth: 'hot', turns: 2, replica_id: afterOne.replica_id });
    const calls = generations(kit('llamacpp'), fake).filter((s) => String((s.body as { prompt: string }).prompt).startsWith(first));
    expect(calls.map((c) => (c.body as { cache_prompt: boolean }).cache_prompt)).toEqual([true, true]);
    expect(calls[1]?.notes.cacheN).toBeGreaterThan(0);
  });

  // ORCH-0307 ORCH-0308
  it('pins the engine slot that served the previous turn (id_slot), even when other slots were used since', async () => {
    const answer = await turn('chat-2', first);
    const replica = ((await gw.get('/v1/sessions/chat-2')).body as { replica_id: string }).replica_id;
    const fake = fakes[Number(replica.slice(1))] as LlamacppFake;
    // Other sessions use that engine's slots meanwhile, so a fresh pick would not be guaranteed.
    await Promise.all(['noise one', 'noise two', 'noise three'].map((p, i) => turn(`noise-${i}`, p, { placement: { pin: replica } })));
    await turn('chat-2', `${first}${answer} And about cats?`);
    const seen = generations(kit('llamacpp'), fake);
    const promptOf = (s: (typeof seen)[number]) => (s.body as { prompt: string }).prompt;
    const served = seen.filter((s) => promptOf(s) === first).at(-1);
    const next = seen.find((s) => promptOf(s).endsWith('cats?'));
    expect(next?.body).toMatchObject({ id_slot: served?.notes.slot, cache_prompt: true });
    expect(next?.notes.cacheN).toBeGreaterThan(0);
  });
});
