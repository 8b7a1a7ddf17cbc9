// Type-level agreement between the contract and the core (checked by `tsc` in `npm run check`;
// vitest runs the file too): SSE payloads, enums and the session view must equal the core's types.

import { describe, expectTypeOf, it } from 'vitest';
import type { components } from '../src/generated/api-types.ts';
import type { ErrorCode } from '../src/core/errors.ts';
import type { EndData, ErrorData, FinishReason, MetricsData, Priority, StartedData, TaskState, TokenData } from '../src/core/task/events.ts';
import type { EngineKind } from '../src/adapters/contract.ts';
import type { SessionView } from '../src/core/session/session-record.ts';

type Schemas = components['schemas'];

describe('contract types', () => {
  // ORCH-0001
  it('match the SSE event payloads of the core', () => {
    expectTypeOf<Schemas['StartedEvent']>().toEqualTypeOf<StartedData>();
    expectTypeOf<Schemas['TokenEvent']>().toEqualTypeOf<TokenData>();
    expectTypeOf<Schemas['MetricsEvent']>().toEqualTypeOf<MetricsData>();
    expectTypeOf<Schemas['EndEvent']>().toEqualTypeOf<EndData>();
    expectTypeOf<Schemas['ErrorEvent']>().toEqualTypeOf<ErrorData>();
  });

  it('match the session view the core renders', () => {
    expectTypeOf<Schemas['Session']>().toEqualTypeOf<SessionView>();
  });

  it('match the enums of the core', () => {
    expectTypeOf<Schemas['ErrorCode']>().toEqualTypeOf<ErrorCode>();
    expectTypeOf<Schemas['TaskState']>().toEqualTypeOf<TaskState>();
    expectTypeOf<Schemas['Priority']>().toEqualTypeOf<Priority>();
    expectTypeOf<Schemas['FinishReason']>().toEqualTypeOf<FinishReason>();
    expectTypeOf<Schemas['EngineKind']>().toEqualTypeOf<EngineKind>();
  });
});
