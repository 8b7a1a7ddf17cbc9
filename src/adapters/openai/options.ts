// The `openai` provider's replica options (pool config `replicas[].options`): the provider
// options every hosted API takes plus what an OpenAI-compatible API does not report.

import { Type, type Static } from '@sinclair/typebox';
import { ProviderOptionFields } from '../http/provider-options.ts';

export const OpenAiOptionsSchema = Type.Object(
  {
    ...ProviderOptionFields,
    ctx_max: Type.Integer({ minimum: 1, default: 128_000, description: "the model's context window; OpenAI-compatible APIs do not report it" }),
    max_tokens_field: Type.Union([Type.Literal('max_tokens'), Type.Literal('max_completion_tokens')], {
      default: 'max_tokens',
      description: 'max_completion_tokens for OpenAI reasoning models, which refuse max_tokens',
    }),
  },
  { additionalProperties: false },
);

export type OpenAiOptions = Static<typeof OpenAiOptionsSchema>;
