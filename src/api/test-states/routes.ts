// `POST /_test/states`: the provider-state endpoint pact verification calls before (setup) and
// after (teardown) each interaction. It exists only when `server.test_mode` is true: the
// plugin refuses to register otherwise, so a production config can never expose it. It is a
// control-plane route (a control token is required when tokens are configured) and is not
// part of the public contract.

import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/schema.ts';
import { orchError } from '../../core/errors.ts';
import { sendError } from '../errors.ts';
import { providerStates, type StateDeps } from './states.ts';

export const TEST_STATES_PATH = '/_test/states';

export interface TestStateRoutesDeps extends StateDeps {
  config: Config;
}

interface StateChange {
  state?: unknown;
  action?: unknown;
  params?: unknown;
}

/** The Fastify plugin to pass in `ServerDeps.plugins` (or register before listen). */
export function testStateRoutes(deps: TestStateRoutesDeps): (app: FastifyInstance) => Promise<void> {
  if (!deps.config.server.test_mode) {
    throw new Error('provider-state routes exist only with server.test_mode: true');
  }
  const states = providerStates(deps);
  return async (app) => {
    app.post<{ Body: StateChange | undefined }>(TEST_STATES_PATH, { config: { plane: 'control' } }, async (req, reply) => {
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
