// The built-in mock engine as a WorkerAdapter: in-process, deterministic, with a configurable
// speed, first-token delay, slot count and fault injection. It is reported honestly as engine
// `mock` everywhere. Stop sequences end the stream with finish reason `stop`, naming the one that
// matched (the mock is its own engine, so it knows, as llama.cpp does). It speaks chat: text
// seeded by the conversation's flat text (`prompt`), or a scripted tool call (chat-script.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import type { MockEngineConfig } from '../../config/schema.ts';
import {
  EngineError,
  type AdapterInit,
  type CanonicalRequest,
  type ChatStreamEvent,
  type EngineHealth,
  type EngineProps,
  type WorkerAdapter,
} from '../contract.ts';
import { scriptedToolCall, type ScriptedCall } from './chat-script.ts';
import { nextToken, seedFor } from './tokens.ts';

export const MOCK_DEFAULTS: MockEngineConfig = {
  tokens_per_s: 200,
  first_token_delay_ms: 20,
  ctx_max: 8192,
  engine_version: 'mock-1',
};

export interface MockAdapterInit extends AdapterInit {
  slots: number;
  mock: Partial<MockEngineConfig>;
}

export function createMockAdapter(init: MockAdapterInit): WorkerAdapter {
  const cfg: MockEngineConfig = { ...MOCK_DEFAULTS, ...init.mock };
  const tokenDelayMs = 1000 / cfg.tokens_per_s;
  let busy = 0;

  /** Sleeps on a budget, not per token, so high speeds do not become one timer per token. */
  async function pace(i: number, signal: AbortSignal): Promise<void> {
    if (tokenDelayMs >= 1 && i > 0) await sleep(tokenDelayMs, undefined, { signal });
    else if (i > 0 && i % 64 === 0) await sleep(0, undefined, { signal });
    signal.throwIfAborted();
  }

  /** A scripted call: one fragment per token, at most max_tokens of them (then `length`). */
  async function* toolCall(call: ScriptedCall, maxTokens: number, signal: AbortSignal): AsyncGenerator<ChatStreamEvent> {
    const sent = Math.min(call.fragments.length, maxTokens);
    for (let i = 0; i < sent; i++) {
      await pace(i, signal);
      const args = call.fragments[i] ?? '';
      yield i === 0 ? { type: 'tool_call_delta', index: 0, id: call.id, name: call.name, arguments: args } : { type: 'tool_call_delta', index: 0, arguments: args };
    }
    yield { type: 'end', finishReason: sent < call.fragments.length ? 'length' : 'tool_calls', completionTokens: sent };
  }

  async function* generate(req: CanonicalRequest, signal: AbortSignal): AsyncGenerator<ChatStreamEvent> {
    busy++;
    try {
      if (cfg.reset_before_first_token) throw new EngineError('WORKER_RESET', 'mock engine reset before the first token');
      if (cfg.first_token_delay_ms > 0) await sleep(cfg.first_token_delay_ms, undefined, { signal });
      let state = seedFor(req.prompt, req.seed);
      const call = req.chat === undefined ? undefined : scriptedToolCall(req.chat, req.taskId, state);
      if (call !== undefined) {
        yield* toolCall(call, req.maxTokens, signal);
        return;
      }
      // Only the last (longest stop - 1) characters can begin a stop that the next token
      // completes; keeping just those keeps the per-token check O(stop length), not O(output).
      let tail = '';
      const stops = req.stop ?? [];
      const keep = Math.max(0, ...stops.map((s) => s.length)) - 1;
      for (let i = 0; i < req.maxTokens; i++) {
        if (cfg.fail_at_token !== undefined && i === cfg.fail_at_token) {
          throw new EngineError('WORKER_RESET', 'mock engine connection reset mid-stream');
        }
        if (cfg.hang_at_token !== undefined && i === cfg.hang_at_token) {
          // An already-aborted signal never fires 'abort' again.
          signal.throwIfAborted();
          await new Promise<never>((_resolve, reject) => {
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          });
        }
        await pace(i, signal);
        const step = nextToken(state);
        state = step.state;
        yield { type: 'token', text: step.text };
        if (stops.length > 0) {
          const recent = tail + step.text;
          const matched = firstStop(recent, stops);
          if (matched !== undefined) {
            yield { type: 'end', finishReason: 'stop', completionTokens: i + 1, stopSequence: matched };
            return;
          }
          tail = keep > 0 ? recent.slice(-keep) : '';
        }
      }
      yield { type: 'end', finishReason: 'length', completionTokens: req.maxTokens };
    } finally {
      busy--;
    }
  }

  return {
    kind: 'mock',
    capabilities: {
      slotAffinity: false,
      deterministic: true,
      reportsSlots: false,
      // Images only change the seed (through the flat text); json modes are not honoured, so refused.
      chat: { vision: true, tools: true, responseFormat: false, logprobs: false },
    },
    async health(): Promise<EngineHealth> {
      return { live: true, ready: true };
    },
    async props(): Promise<EngineProps> {
      return {
        engineVersion: cfg.engine_version,
        model: init.model,
        ctxMax: cfg.ctx_max,
        slotsTotal: init.slots,
        slotsFree: Math.max(0, init.slots - busy),
        deterministic: true,
      };
    },
    // Tool-call deltas and chat end reasons only come for requests that carry `chat`, which is
    // exactly the chat overload of stream(); completion requests get tokens and stop/length.
    stream: generate as WorkerAdapter['stream'],
    async close(): Promise<void> {},
  };
}

/** The stop string that occurs first in `text` (the first listed on a tie), if any does. */
function firstStop(text: string, stops: readonly string[]): string | undefined {
  let best: { at: number; stop: string } | undefined;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (best === undefined || at < best.at)) best = { at, stop };
  }
  return best?.stop;
}
