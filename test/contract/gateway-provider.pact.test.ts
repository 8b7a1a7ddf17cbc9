// Provider side of the CLI ↔ gateway contract: the real gateway (compose + listen on an
// ephemeral port) replays every interaction of the committed pact file in contracts/pacts/.
// Provider states are set up through POST /_test/states (test/support/provider-states/), a
// plugin this test passes to compose() and the shipped gateway never has, which the pact
// verifier's state handlers call.
// No broker and no network beyond loopback.

import { Verifier } from '@pact-foundation/pact';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.ts';
import { providerStateRoutes, TEST_STATES_PATH } from '../support/provider-states/routes.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { MODELS, PACT_FILE, PROVIDER } from './pact-fixtures.ts';

const STATES = ['a task exists', 'a completed task exists', 'the queue is full', 'the pool is unready', 'a session exists'];

let gw: TestGateway;
beforeAll(async () => {
  // ORCH-0014: the provider-state routes come only from this test, as a compose() plugin.
  gw = await startGateway(
    testConfig({
      pools: [
        mockPool({ id: 'demo', model: MODELS.fast, replicas: [{ id: 'mock-0', slots: 4 }] }),
        mockPool({ id: 'slow', model: MODELS.slow, replicas: [{ id: 'slow-0', slots: 4 }] }, { tokens_per_s: 5 }),
        mockPool({ id: 'busy', model: MODELS.busy, replicas: [{ id: 'busy-0', slots: 1 }], queue: { max_queued: 1 } }, { tokens_per_s: 5 }),
        // No periodic probe during the run, so "the pool is unready" holds until its teardown re-probes.
        mockPool({ id: 'cold', model: MODELS.cold, replicas: [{ id: 'cold-0', slots: 1 }], health: { interval_ms: 3_600_000 } }),
      ],
    }),
    { plugins: [providerStateRoutes(() => gw)] },
  );
});
afterAll(async () => gw?.close());

async function changeState(state: string, action: 'setup' | 'teardown', params: unknown): Promise<void> {
  const res = await request(`${gw.url}${TEST_STATES_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ state, action, params: params ?? {} }),
  });
  const body = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode !== 200) throw new Error(`provider state "${state}" ${action} failed: ${JSON.stringify(body)}`);
}

describe('the gateway as the pact provider for the orchqueue CLI', () => {
  it('ORCH-0015 honours every interaction of contracts/pacts with the real server and provider states', async () => {
    const stateHandlers = Object.fromEntries(
      STATES.map((state) => [
        state,
        {
          setup: (params?: unknown) => changeState(state, 'setup', params),
          teardown: (params?: unknown) => changeState(state, 'teardown', params),
        },
      ]),
    );
    const output = await new Verifier({
      provider: PROVIDER,
      providerBaseUrl: gw.url,
      pactUrls: [PACT_FILE],
      stateHandlers,
      logLevel: 'error',
    }).verifyProvider();
    expect(output).toBeDefined();
  }, 60_000);

  it('refuses an unknown provider state with a typed 400', async () => {
    const res = await request(`${gw.url}${TEST_STATES_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state: 'the moon is full' }) });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: 'INVALID_PARAMS', field: 'state' });
  });
});

describe('the shipped gateway without the provider-state plugin', () => {
  it('ORCH-0014 has no /_test/states, and no configuration turns it on', async () => {
    const plain = await startGateway();
    try {
      expect((await plain.post(TEST_STATES_PATH, { state: 'a task exists' })).status).toBe(404);
    } finally {
      await plain.close();
    }
    const config = testConfig();
    expect(validateConfig({ ...config, server: { ...config.server, test_mode: true } })).toEqual({
      ok: false,
      problems: ['/server must NOT have additional properties (test_mode)'],
    });
  });
});
