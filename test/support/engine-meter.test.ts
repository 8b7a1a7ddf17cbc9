// The cluster tests' instruments: the engine meter counts concurrent generations across its
// fronts and passes a hang-up on to the fake; the refusal detector picks out only the state
// backend's refusal line, so a gateway failing for another reason never turns into a skip.

import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { backendRefusal } from './cluster.ts';
import { meterEngine, type EngineMeter } from './engine-meter.ts';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function metered(): Promise<{ fake: VllmFake; meter: EngineMeter }> {
  const fake = await startVllmFake({ tokensPerS: 50, model: 'fake-model' });
  const meter = await meterEngine(fake.url);
  open.push(fake, meter);
  return { fake, meter };
}

const generate = (base: string, prompt: string, signal?: AbortSignal) =>
  request(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'fake-model', prompt, max_tokens: 10, stream: true }),
    ...(signal ? { signal } : {}),
  });

describe('engine meter', () => {
  it('counts generations open at once across every front, tagged with the front and the prompt', async () => {
    const { meter } = await metered();
    const [one, two] = [await meter.frontFor('gw-1'), await meter.frontFor('gw-2')];
    expect(one).not.toBe(two);
    const answers = await Promise.all([generate(one, 'a'), generate(one, 'b'), generate(two, 'c')]);
    await Promise.all(answers.map((a) => a.body.text()));
    await expect.poll(() => meter.open).toBe(0);
    expect(meter.peak).toBe(3);
    expect(meter.generations.map((g) => [g.gateway, g.prompt, g.aborted]).sort()).toEqual([['gw-1', 'a', false], ['gw-1', 'b', false], ['gw-2', 'c', false]]);
    // Probes and other GETs are not generations.
    expect((await request(`${one}/health`)).statusCode).toBe(200);
    expect(meter.generations).toHaveLength(3);
    meter.reset();
    expect([meter.peak, meter.generations.length]).toEqual([0, 0]);
  });

  it('records a generation the gateway hung up on, and the fake behind sees the hang-up', async () => {
    const { fake, meter } = await metered();
    const ac = new AbortController();
    const answer = await generate(await meter.frontFor('gw-1'), 'cut', ac.signal);
    for await (const _chunk of answer.body) {
      ac.abort();
      break;
    }
    await expect.poll(() => meter.generations[0]?.aborted).toBe(true);
    await expect.poll(() => fake.seen.find((r) => r.method === 'POST')?.aborted).toBe(true);
    expect(meter.open).toBe(0);
  });
});

describe('backendRefusal', () => {
  it('finds the state backend refusal line and nothing else', () => {
    const line = 'orchqueue: state.backend "redis" is not wired into the gateway yet (issue 15)';
    expect(backendRefusal(`{"level":30}\n${line}\n`)).toBe(line);
    expect(backendRefusal('orchqueue: invalid configuration\n  - /state/url: required when backend is redis (or set REDIS_URL)\n')).toBeUndefined();
    expect(backendRefusal('orchqueue: cannot start: connect ECONNREFUSED 127.0.0.1:6379\n')).toBeUndefined();
  });
});
