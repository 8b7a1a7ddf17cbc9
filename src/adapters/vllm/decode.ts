// vLLM `/v1/completions` stream → canonical events (ENGINES.md §2). Pure. Text chunks
// `choices[{text, finish_reason}]`, the finish reason usually on the last text chunk, then a
// usage chunk with `choices: []`, then `data: [DONE]` — which also follows an in-band error.
// `finish_reason: "abort"` (engine-side abort) is a failure, not an end. The finish chunk's
// `stop_reason` names the stop string that matched (an integer when a stop token id did).

import { CompletionsStreamDecoder } from '../openai-compat/completions-codec.ts';

export class VllmStreamDecoder extends CompletionsStreamDecoder {
  constructor() {
    super({ readsStopReason: true });
  }
}
