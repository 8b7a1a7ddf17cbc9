// The streaming chat call shared by llama.cpp, vLLM and TGI (`POST /v1/chat/completions`, SSE
// until `data: [DONE]`): the request with the engine's body and a fresh ChatStreamDecoder whose
// minted tool-call ids carry the task id, so they stay unique across a conversation.

import type { ChatCanonicalRequest } from '../contract.ts';
import type { SseCall } from '../../transport/sse-stream.ts';
import { ChatStreamDecoder, type ChatDecoderOptions } from './chat-decode.ts';
import { CHAT_COMPLETIONS_PATH } from './chat-encode.ts';

export interface ChatWire {
  /** The engine's chat body (the shared encoding plus whatever that engine adds or changes). */
  body: object;
  headers: Record<string, string>;
  toolCallIds: ChatDecoderOptions['toolCallIds'];
  /** The engine names the matched stop string in the finish chunk's `stop_reason` (vLLM). */
  readsStopReason?: boolean;
}

export function openChatStream(req: ChatCanonicalRequest, wire: ChatWire): { call: SseCall; decoder: ChatStreamDecoder } {
  const headers = { ...wire.headers, accept: 'text/event-stream' };
  return {
    call: { path: CHAT_COMPLETIONS_PATH, body: JSON.stringify(wire.body), headers },
    decoder: new ChatStreamDecoder({ toolCallIds: wire.toolCallIds, idPrefix: `call_${req.taskId}`, readsStopReason: wire.readsStopReason === true }),
  };
}
