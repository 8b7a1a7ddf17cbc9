// Triton generate_stream SSE messages → canonical events (ENGINES.md §4). Pure: no I/O. Every
// response is a JSON object keyed by output tensor name; only the configured text output is
// read and the rest (`cum_log_probs`, `model_name`, `sequence_end`, `id`, …) is ignored. There
// is no terminator and no finish reason: the stream ends when the body does, and `length` is
// inferred when the response count reaches max_tokens.

import type { SseMessage } from '../../transport/sse-parser.ts';
import type { SseDecoder } from '../../transport/sse-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, parseJson, stringField } from '../../transport/json-fields.ts';
import type { CanonicalEvent, EngineProps } from '../contract.ts';
import type { TritonWire } from './options.ts';

export class TritonStreamDecoder implements SseDecoder<CanonicalEvent> {
  /** Never set: Triton sends no terminal event, so the whole body is always decoded. */
  readonly complete = false;
  /** Token events produced so far (decides WORKER_RESET vs. a pre-token error code). */
  tokens = 0;
  /** Responses carrying the text output: one per generation step. */
  private steps = 0;
  private emittedChars = 0;
  private readonly wire: TritonWire;
  private readonly maxTokens: number;

  constructor(wire: TritonWire, maxTokens: number) {
    this.wire = wire;
    this.maxTokens = maxTokens;
  }

  push(msg: SseMessage, out: CanonicalEvent[]): InBandError | undefined {
    if ((msg.event !== undefined && msg.event !== 'message') || msg.data.length === 0) return undefined;
    const value = parseJson(msg.data);
    if (!isRecord(value)) return { type: 'unreadable_event', message: msg.data };
    const error = stringField(value, 'error');
    if (error !== undefined) return { message: error };
    const text = textOf(value[this.wire.output]);
    if (text === undefined) return undefined;
    this.steps++;
    const piece = this.wire.textMode === 'cumulative' ? text.slice(this.emittedChars) : text;
    this.emittedChars += piece.length;
    if (piece.length > 0) {
      this.tokens++;
      out.push({ type: 'token', text: piece });
    }
    return undefined;
  }

  /** A clean end of body is the end of generation; only the step count hints at the reason. */
  finish(out: CanonicalEvent[]): boolean {
    out.push({ type: 'end', finishReason: this.steps >= this.maxTokens ? 'length' : 'stop' });
    return true;
  }
}

/** A one-element string tensor renders as a scalar; tolerate the array form too. */
function textOf(tensor: unknown): string | undefined {
  if (typeof tensor === 'string') return tensor;
  if (Array.isArray(tensor) && tensor.every((t) => typeof t === 'string')) return tensor.join('');
  return undefined;
}

export type TritonFacts = { ok: true; props: EngineProps } | { ok: false; field: string };

export interface TritonKnownFacts {
  ctxMax: number;
  slotsTotal: number;
  deterministic: boolean;
}

/**
 * `GET /v2` (server metadata) + `GET /v2/models/{m}` (model metadata) → engine facts. The model
 * must expose the configured text input and output, or every generation would fail with 400.
 */
export function decodeTritonFacts(server: unknown, model: unknown, wire: TritonWire, known: TritonKnownFacts): TritonFacts {
  const engineVersion = isRecord(server) ? stringField(server, 'version') : undefined;
  if (engineVersion === undefined) return { ok: false, field: 'server version' };
  if (!isRecord(model)) return { ok: false, field: 'model metadata' };
  const name = stringField(model, 'name');
  if (name === undefined) return { ok: false, field: 'model name' };
  if (!hasTensor(model['inputs'], wire.inputs.text_input)) return { ok: false, field: `input tensor ${wire.inputs.text_input}` };
  if (!hasTensor(model['outputs'], wire.output)) return { ok: false, field: `output tensor ${wire.output}` };
  return { ok: true, props: { engineVersion, model: name, ...known } };
}

function hasTensor(list: unknown, name: string): boolean {
  return Array.isArray(list) && list.some((t) => isRecord(t) && t['name'] === name);
}
