// `POST /_test/states`: the provider-state endpoint pact verification calls before (setup) and
// after (teardown) each interaction (ORCH-0014). It lives under test/, never in src/: the pact
// provider test passes it to compose() in `ComposeOptions.plugins`, so no configuration of the
// shipped gateway can expose it. A control-plane route (a control token is required when tokens
// are configured), not part of the public contract.

import type { FastifyInstance } from 'fastify';
import { sendError } from '../../../src/api/errors.ts';
import { orchError } from '../../../src/core/errors.ts';
import { providerStates, type ProviderState, type StateDeps } from './states.ts';

export const TEST_STATES_PATH = '/_test/states';

interface StateChange {
  state?: unknown;
  action?: unknown;
  params?: unknown;
}

/**
 * The Fastify plugin to pass in `ComposeOptions.plugins`. `gateway` is read at each request, so
 * it may name the gateway that compose() is still building when the plugin is made.
 */
export function providerStateRoutes(gateway: () => StateDeps): (app: FastifyInstance) => Promise<void> {
  // Made at the first request (the gateway exists by then) and kept: states remember their fillers.
  let made: Record<string, ProviderState> | undefined;
  return async (app) => {
    app.post<{ Body: StateChange | undefined }>(TEST_STATES_PATH, { config: { plane: 'control' } }, async (req, reply) => {
      const states = (made ??= providerStates(gateway()));
      const { state, action = 'setup', params = {} } = req.body ?? {};
      const handler = typeof state === 'string' ? states[state] : undefined;
      if (!handler) {
        return sendError(reply, orchError('INVALID_PARAMS', `unknown provider state ${JSON.stringify(state)}; known: ${Object.keys(states).join(', ')}`, { field: 'state' }));
      }
      if (action !== 'setup' && action !== 'teardown') return sendError(reply, orchError('INVALID_PARAMS', 'action must be setup or teardown', { field: 'action' }));
      if (typeof params !== 'object' || params === null || Array.isArray(params)) {
        return sendError(reply, orchError('INVALID_PARAMS', 'params must be an object', { field: 'params' }));
      }
      const result = await handler[action](params as Record<string, unknown>);
      if (!result.ok) return sendError(reply, orchError('INVALID_PARAMS', `${state as string}: ${result.message}`, { field: result.field }));
      return reply.send(result.values);
    });
  };
}
