// The load generator's client for one stream: sends one request over an undici Pool, parses
// the SSE body incrementally with the project's own parser and reports what arrived and when.
// Wire protocols: llama.cpp `/completion` (direct and proxy paths), OrchQueue's one-round-trip
// `POST /v1/tasks` with Accept: text/event-stream (gateway path), and OpenAI chat streaming
// (`POST /v1/chat/completions`, spoken by llama-server and by the gateway's front door alike).

import type { Pool } from 'undici';
import { SseParser, type SseMessage } from '../src/transport/sse-parser.ts';

/** What one SSE message means for counting. */
export type MessageKind = 'token' | 'end' | 'error' | 'other';

export interface Protocol {
  readonly name: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  body(model: string, prompt: string, maxTokens: number): string;
  classify(message: SseMessage): MessageKind;
  /** Tokens the terminal message says were sent, when it says. */
  reportedTokens(terminal: SseMessage): number | undefined;
}

function jsonField(data: string, key: string): unknown {
  try {
    const parsed: unknown = JSON.parse(data);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[key] : undefined;
  } catch {
    return undefined;
  }
}

/** llama-server `/completion` streaming: partial events carry `"stop":false`, the final one `"stop":true`, no [DONE]. */
export const llamacppProtocol: Protocol = {
  name: 'llamacpp /completion',
  path: '/completion',
  headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
  body: (_model, prompt, maxTokens) => JSON.stringify({ prompt, n_predict: maxTokens, stream: true }),
  classify(message) {
    if (message.event === 'error' || message.data.startsWith('{"error"')) return 'error';
    // JSON.stringify escapes quotes inside strings, so this substring can only be the key itself.
    if (message.data.includes('"stop":true')) return 'end';
    return message.data.length > 0 ? 'token' : 'other';
  },
  reportedTokens: (terminal) => {
    const n = jsonField(terminal.data, 'tokens_predicted');
    return typeof n === 'number' ? n : undefined;
  },
};

/** OrchQueue one round trip: `started`, `token`…, `metrics`, then exactly one `end` or `error`. */
export const orchqueueProtocol: Protocol = {
  name: 'orchqueue POST /v1/tasks (SSE)',
  path: '/v1/tasks',
  headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
  body: (model, prompt, maxTokens) => JSON.stringify({ model, prompt, max_tokens: maxTokens }),
  classify(message) {
    switch (message.event) {
      case 'token':
        return 'token';
      case 'end':
        return 'end';
      case 'error':
        return 'error';
      default:
        return 'other';
    }
  },
  reportedTokens: (terminal) => {
    const n = jsonField(terminal.data, 'tokens_out');
    return typeof n === 'number' ? n : undefined;
  },
};

export interface StreamRequest {
  model: string;
  prompt: string;
  maxTokens: number;
}

export interface StreamOutcome {
  /** HTTP status; 0 when the request failed before any response. */
  status: number;
  tokens: number;
  terminal: 'end' | 'error' | 'none';
  reportedTokens: number | undefined;
  /** ms from sending the request to the first token; NaN when none arrived. */
  ttftMs: number;
  durationMs: number;
  /** Error code from a non-200 body or an SSE `error` event, or a transport error name. */
  errorCode: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/** Called with performance.now() for every token (every message of one chunk shares its arrival time). */
export type TokenHook = (now: number) => void;

export async function streamOnce(pool: Pool, protocol: Protocol, req: StreamRequest, signal: AbortSignal, onToken?: TokenHook): Promise<StreamOutcome> {
  const startedAt = performance.now();
  const outcome: StreamOutcome = { status: 0, tokens: 0, terminal: 'none', reportedTokens: undefined, ttftMs: Number.NaN, durationMs: 0, errorCode: undefined, headers: {} };
  let res;
  try {
    res = await pool.request({ method: 'POST', path: protocol.path, headers: protocol.headers, body: protocol.body(req.model, req.prompt, req.maxTokens), signal });
  } catch (err) {
    outcome.errorCode = err instanceof Error ? err.name : 'Error';
    outcome.durationMs = performance.now() - startedAt;
    return outcome;
  }
  outcome.status = res.statusCode;
  outcome.headers = res.headers;
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    const error = jsonField(text, 'error');
    const code = typeof error === 'object' && error !== null ? (error as Record<string, unknown>)['code'] : undefined;
    outcome.errorCode = typeof code === 'string' ? code : `HTTP ${res.statusCode}`;
    outcome.durationMs = performance.now() - startedAt;
    return outcome;
  }
  const parser = new SseParser();
  const body = res.body;
  await new Promise<void>((resolve) => {
    const onMessage = (message: SseMessage, now: number) => {
      const kind = protocol.classify(message);
      if (kind === 'token') {
        if (outcome.tokens === 0) outcome.ttftMs = now - startedAt;
        outcome.tokens++;
        onToken?.(now);
      } else if (kind === 'end' || kind === 'error') {
        outcome.terminal = kind;
        outcome.reportedTokens = protocol.reportedTokens(message);
        if (kind === 'error') outcome.errorCode = String(jsonField(message.data, 'code') ?? 'SSE error');
      }
    };
    body.on('data', (chunk: Buffer) => {
      const now = performance.now();
      for (const message of parser.push(chunk)) onMessage(message, now);
    });
    body.once('end', () => resolve());
    body.once('error', (err: Error) => {
      outcome.errorCode ??= err.name;
      resolve();
    });
  });
  outcome.durationMs = performance.now() - startedAt;
  return outcome;
}

/** A stream that ended normally with exactly the tokens it asked for. */
export function isFull(outcome: StreamOutcome, maxTokens: number): boolean {
  return outcome.status === 200 && outcome.terminal === 'end' && outcome.tokens === maxTokens;
}

/**
 * OpenAI `chat.completion.chunk` streaming with the usage chunk: content deltas are tokens, the
 * chunk with `choices: []` carries the usage, `data: [DONE]` ends. The same protocol reaches the
 * engine's own chat endpoint and the gateway's front door, so the two are compared like for like.
 */
export const openAiChatProtocol: Protocol = {
  name: 'OpenAI POST /v1/chat/completions (SSE)',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
  body: (model, prompt, maxTokens) =>
    JSON.stringify({ model, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }),
  classify(message) {
    if (message.data === '[DONE]') return 'end';
    if (message.data.startsWith('{"error"')) return 'error';
    // A content delta (the role chunk's content is empty, the usage chunk has no delta).
    return message.data.includes('"delta":{"content":') ? 'token' : 'other';
  },
  reportedTokens: () => undefined,
};
