// Binds a route to its OpenAPI operation: method, path and request schemas come from the
// generated contract (src/generated/routes.ts), so the server validates exactly what the
// contract says. `plane` selects the auth scope.

import type { RouteShorthandOptions } from 'fastify';
import { operations } from '../generated/routes.ts';

export type OperationId = keyof typeof operations;
export type Plane = 'data' | 'control' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    plane?: Plane;
    operationId?: string;
  }
}

export function operation(id: OperationId, plane: Plane) {
  const op = operations[id];
  const options: RouteShorthandOptions & { method: string; url: string } = {
    method: op.method,
    url: op.path,
    schema: op.schema as RouteShorthandOptions['schema'],
    config: { plane, operationId: id },
  };
  return options;
}
