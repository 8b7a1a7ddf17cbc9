// The llama.cpp adapter's replica options (pool config `replicas[].options`): the options every
// HTTP engine takes plus what only the operator knows about how llama-server was started, which
// decides the chat capabilities the adapter declares (issue 11).

import { Type, type Static } from '@sinclair/typebox';
import { HttpOptionFields } from '../http/http-options.ts';

export const LlamacppOptionsSchema = Type.Object(
  {
    ...HttpOptionFields,
    chat_tools: Type.Boolean({
      default: false,
      description: 'llama-server runs with --jinja, so its chat route takes tools and streams tool calls',
    }),
    chat_vision: Type.Boolean({
      default: false,
      description: 'llama-server runs with a multimodal projector (--mmproj), so chat takes images',
    }),
  },
  { additionalProperties: false },
);

export type LlamacppOptions = Static<typeof LlamacppOptionsSchema>;
