// The end event's optional fields through both event-log backends: `stop_sequence` (any text,
// quotes and newlines included) reaches replay, live followers and the SSE frame unchanged in
// the in-memory log and in the Redis stream, and an end without it stays without it.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EndData, TaskEvent } from '../../src/core/task/events.ts';
import { TaskEventLog } from '../../src/core/task/event-log.ts';
import { RedisEventLogs } from '../../src/state/redis/event-log.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';

let ctx: RedisTestContext;
let logs: RedisEventLogs;

beforeEach(async () => {
  ctx = await redisForTest();
  logs = new RedisEventLogs({ redis: ctx.client, blocking: ctx.connect(), keys: stateKeys(ctx.prefix), retentionMs: 60_000, blockMs: 60_000 });
});
afterEach(async () => {
  await logs.close();
  await ctx.cleanup();
});

const ENDS: Record<string, EndData> = {
  named: { tokens_out: 2, decode_time_ms: 7, finish_reason: 'stop', stop_sequence: '\n\n"Q": ü' },
  plain: { tokens_out: 2, decode_time_ms: 7, finish_reason: 'stop' },
};

describe('the end event in the event logs', () => {
  for (const [name, end] of Object.entries(ENDS)) {
    it(`keeps a ${name} end as written, in memory and in Redis, for replay and followers`, async () => {
      const memory = new TaskEventLog();
      const shared = logs.of(`end-${name}`);
      for (const log of [memory, shared]) {
        await log.append('token', { t: 'a', i: 0 });
        await log.append('end', end);
      }
      const memoryFrames: string[] = [];
      memory.follow(0, (frame) => memoryFrames.push(frame));
      const sharedFrames: string[] = [];
      const followed = new Promise<TaskEvent>((resolve, reject) => {
        shared.follow(0, (frame, event) => {
          sharedFrames.push(frame);
          if (event.event === 'end') resolve(event);
        }, reject);
      });
      expect((await followed).data).toEqual(end);
      expect(sharedFrames).toEqual(memoryFrames);
      expect(memoryFrames.at(-1)).toBe(`id: 2\nevent: end\ndata: ${JSON.stringify(end)}\n\n`);
      expect((await shared.since(1))[0]?.data).toEqual(end);
      expect(memory.since(1)[0]?.data).toEqual(end);
    });
  }
});
