// The Fastify side of metrics: `GET /metrics` (Prometheus text 0.0.4) and one HTTP duration
// observation per response, labelled by route template. Registered as a plugin by main.ts.

import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';

export interface MetricsRouteOptions {
  /** Auth scope of `/metrics` (the contract allows an open or a control-plane scrape). */
  plane?: 'public' | 'control';
}

export function metricsPlugin(metrics: Metrics, opts: MetricsRouteOptions = {}) {
  const plugin = async (app: FastifyInstance): Promise<void> => {
    app.addHook('onResponse', async (req, reply) => {
      // routeOptions.url is the template (`/v1/tasks/:id`), never the raw path; 404s have none.
      metrics.httpObserve(req.routeOptions.url ?? '', req.method, reply.statusCode, reply.elapsedTime / 1000);
    });
    app.route({
      method: 'GET',
      url: '/metrics',
      config: { plane: opts.plane ?? 'public', operationId: 'getMetrics' },
      handler: async (_req, reply) => {
        const text = await metrics.registry.metrics();
        return reply.type(metrics.registry.contentType).send(text);
      },
    });
  };
  // Like fastify-plugin: the onResponse hook must see every route, not only this plugin's.
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
