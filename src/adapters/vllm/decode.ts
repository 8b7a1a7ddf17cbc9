// vLLM `/v1/completions` stream → canonical events (ENGINES.md §2). Pure. Text chunks
// `choices[{text, finish_reason}]`, the finish reason usually on the last text chunk, then a
// usage chunk with `choices: []`, then `data: [DONE]` — which also follows an in-band error.
// `finish_reason: "abort"` (engine-side abort) is a failure, not an end.

import { CompletionsStreamDecoder } from '../openai-compat/completions-codec.ts';

export class VllmStreamDecoder extends CompletionsStreamDecoder {}
