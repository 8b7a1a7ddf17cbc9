// The TGI adapter's replica options (pool config `replicas[].options`): the options every HTTP
// engine takes plus TGI's own, validated when the adapter is built so a typo fails at load.

import { Type, type Static } from '@sinclair/typebox';
import { HttpOptionFields } from '../http/http-options.ts';

export const TgiOptionsSchema = Type.Object(
  {
    ...HttpOptionFields,
    deterministic: Type.Boolean({
      default: false,
      description: 'declare that equal (prompt, seed) give equal tokens on every replica; continuous batching usually breaks this',
    }),
    chat_vision: Type.Boolean({ default: false, description: 'the served model is a vision-language model, so chat takes images' }),
  },
  { additionalProperties: false },
);

export type TgiOptions = Static<typeof TgiOptionsSchema>;
