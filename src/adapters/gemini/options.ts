// The Gemini adapter's replica options (pool config `replicas[].options`): the HTTP retry and
// connection knobs plus a credential by reference (issue 13 item 4) that is required — a hosted
// provider answers nothing without one — and never inline: a string `api_key` is refused at load.

import { Type, type Static } from '@sinclair/typebox';
import { CredentialRefSchema } from '../http/credentials.ts';
import { HttpOptionFields } from '../http/http-options.ts';

export const GeminiOptionsSchema = Type.Object(
  {
    ...HttpOptionFields,
    api_key: CredentialRefSchema,
    api_version: Type.String({ pattern: '^v[0-9a-z]+$', default: 'v1beta', description: 'path segment of the Generative Language API version' }),
    max_concurrency: Type.Integer({ minimum: 1, default: 16, description: 'streams this replica runs at once; the provider reports no slot count' }),
  },
  { additionalProperties: false },
);

export type GeminiOptions = Static<typeof GeminiOptionsSchema>;
