// The TGI adapter's engine-specific options (pool config `replicas[].options`): their schema and
// the one parse step. Unknown keys are rejected so a typo never silently falls back to a default.

import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export const TgiOptionsSchema = Type.Object(
  {
    deterministic: Type.Boolean({
      default: false,
      description: 'declare that equal (prompt, seed) give equal tokens on every replica; continuous batching usually breaks this',
    }),
  },
  { additionalProperties: false },
);

export type TgiOptions = Static<typeof TgiOptionsSchema>;

/** Throws a TypeError naming the field: options are checked at config load, so this is a bug guard. */
export function parseTgiOptions(raw: Record<string, unknown>): TgiOptions {
  const withDefaults = Value.Default(TgiOptionsSchema, structuredClone(raw));
  if (Value.Check(TgiOptionsSchema, withDefaults)) return withDefaults;
  const first = Value.Errors(TgiOptionsSchema, withDefaults).First();
  throw new TypeError(`invalid tgi options at ${first?.path || '/'}: ${first?.message ?? 'unknown error'}`);
}
