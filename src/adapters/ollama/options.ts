// The Ollama adapter's replica options (pool config `replicas[].options`): the HTTP retry and
// connection knobs, an optional credential by reference (Ollama itself has no auth; a proxy in
// front of it may want a bearer token), and the server facts Ollama does not report.

import { Type, type Static } from '@sinclair/typebox';
import { CredentialRefSchema } from '../http/credentials.ts';
import { HttpOptionFields } from '../http/http-options.ts';

export const OllamaOptionsSchema = Type.Object(
  {
    ...HttpOptionFields,
    api_key: Type.Optional(CredentialRefSchema),
    num_parallel: Type.Integer({ minimum: 1, default: 1, description: 'the server OLLAMA_NUM_PARALLEL (requests served at once per model); Ollama does not report it' }),
    num_ctx: Type.Optional(Type.Integer({ minimum: 1, description: 'context window sent as options.num_ctx on every request; absent = the server default (4096)' })),
    deterministic: Type.Boolean({
      default: false,
      description: 'declare that equal (prompt, seed) give equal tokens on every replica (one model build, OLLAMA_NUM_PARALLEL=1)',
    }),
    keep_alive: Type.Optional(Type.String({ minLength: 1, pattern: '^-?[0-9]+(ms|s|m|h)?$', description: 'how long the model stays loaded after a request, e.g. "5m" (Ollama keep_alive)' })),
  },
  { additionalProperties: false },
);

export type OllamaOptions = Static<typeof OllamaOptionsSchema>;

/** Ollama's context window when none is configured (OLLAMA_CONTEXT_LENGTH default). */
export const OLLAMA_DEFAULT_CTX = 4096;
