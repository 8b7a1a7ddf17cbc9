// Refusals on the dialect front doors are recorded like /v1/tasks refusals (ORCH-1100): the
// lifecycle `rejected` fact (audit rejection row, metric, log) for a refusal before admission.
import { afterEach, describe, expect, it } from 'vitest';
import type { RejectedFact } from '../../src/core/observer.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

describe('dialect refusals', () => {
  // ORCH-1100
  it.each([
    ['a normalizer refusal (unknown role)', '/v1/chat/completions', { model: 'demo', messages: [{ role: 'robot', content: 'hi' }] }],
    ['a parameter refusal (n > 1)', '/v1/chat/completions', { model: 'demo', messages: [{ role: 'user', content: 'hi' }], n: 2 }],
    ['an unknown model', '/v1/messages', { model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }],
    ['a schema refusal', '/v1/completions', { model: 'demo', prompt: 42 }],
  ])('records %s as a rejected admission', async (_t, path, body) => {
    const rejected: RejectedFact[] = [];
    gw = await startGateway(testConfig(), { observers: [{ rejected: (f) => void rejected.push(f) }] });
    const res = await gw.post(path, body, { 'x-correlation-id': 'refusal-1' });
    expect(res.status).toBe(400);
    expect(rejected).toEqual([expect.objectContaining({ correlation_id: 'refusal-1', code: 'INVALID_PARAMS' })]);
  });
});
