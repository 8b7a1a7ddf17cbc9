// A dialect request refused before it reaches admission (a model with no chat endpoint, a
// normalizer or parameter refusal) is recorded exactly like an admission refusal — audit
// `rejection` row, metric, log line — then answered in the dialect's envelope (ORCH-1100).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OrchError } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import { sendError } from '../errors.ts';

export function refusalRecorder(observer: LifecycleObserver) {
  return (req: FastifyRequest, reply: FastifyReply, error: OrchError): FastifyReply => {
    observer.rejected?.({
      correlation_id: String(req.id),
      code: error.code,
      message: error.message,
      ...(error.pool_id !== undefined ? { pool_id: error.pool_id } : {}),
    });
    return sendError(reply, error);
  };
}
