// Bearer-token auth with two scopes (ARCHITECTURE §3 step 2): data-plane tokens reach the
// data routes; control-plane tokens reach both. An empty token list leaves that plane open.
// The actor recorded in the audit trail is a short token fingerprint, never the token.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { orchError } from '../core/errors.ts';
import { sendError } from './errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    actor?: string;
  }
}

export interface AuthTokens {
  data: readonly string[];
  control: readonly string[];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function matches(candidate: Buffer, tokens: readonly Buffer[]): boolean {
  let found = false;
  for (const t of tokens) if (timingSafeEqual(candidate, t)) found = true;
  return found;
}

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(header: string | undefined): string {
  const match = typeof header === 'string' ? /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  return match?.[1] ?? '';
}

export function installAuth(app: FastifyInstance, tokens: AuthTokens): void {
  const data = tokens.data.map(digest);
  const control = tokens.control.map(digest);
  app.addHook('onRequest', async (req, reply) => {
    const plane = req.routeOptions.config?.plane ?? 'public';
    if (plane === 'public') return;
    const allowed = plane === 'data' ? [...data, ...control] : control;
    const open = plane === 'data' ? data.length === 0 && control.length === 0 : control.length === 0;
    if (open) {
      req.actor = 'anonymous';
      return;
    }
    const header = req.headers.authorization;
    // Anthropic clients send the key as x-api-key (ORCH-1108); only on the Anthropic dialect.
    const apiKey = req.routeOptions.config?.dialect === 'anthropic' ? req.headers['x-api-key'] : undefined;
    const token = bearerToken(header) || (typeof apiKey === 'string' ? apiKey.trim() : '');
    if (!token) return sendError(reply, orchError('UNAUTHORIZED', 'missing bearer token'));
    const d = digest(token);
    if (matches(d, allowed)) {
      req.actor = `token:${d.toString('hex').slice(0, 12)}`;
      return;
    }
    if (plane === 'control' && matches(d, data)) return sendError(reply, orchError('FORBIDDEN', 'this token has no control-plane scope'));
    return sendError(reply, orchError('UNAUTHORIZED', 'invalid bearer token'));
  });
}

export function actorOf(req: FastifyRequest): string {
  return req.actor ?? 'anonymous';
}
