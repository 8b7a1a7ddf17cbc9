// The `anthropic` provider's replica options (pool config `replicas[].options`): the provider
// options every hosted API takes plus the Messages API's version header and beta flags.

import { Type, type Static } from '@sinclair/typebox';
import { ProviderOptionFields } from '../http/provider-options.ts';

export const AnthropicOptionsSchema = Type.Object(
  {
    ...ProviderOptionFields,
    anthropic_version: Type.String({ minLength: 1, default: '2023-06-01', description: 'the anthropic-version header (ENGINES.md §8)' }),
    anthropic_beta: Type.Array(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }), { default: [], description: 'anthropic-beta flags, joined with commas' }),
    ctx_max: Type.Integer({ minimum: 1, default: 200_000, description: "the model's context window; the API does not report it" }),
  },
  { additionalProperties: false },
);

export type AnthropicOptions = Static<typeof AnthropicOptionsSchema>;
