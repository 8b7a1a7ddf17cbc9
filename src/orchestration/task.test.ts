// What a task tells its readers about the stop string that ended it: the engine's word, kept only
// on a `stop` end and only for a string the request asked for. The mock engine hangs after one
// token (`hang_at_token`) so each test ends the running task itself with the engine's claim.
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceKit, type ServiceKit } from '../../test/support/task-service.ts';
import type { Ending, Task } from './task.ts';

let kit: ServiceKit | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
});

async function endedWith(ending: Ending): Promise<Task> {
  kit = await startServiceKit({ mock: { hang_at_token: 1 } });
  const task = await kit.submit({ stop: ['END', '\n\n'] });
  await kit.tokens(task, 1);
  task.end(ending, { now: kit.clock.now(), mono: kit.clock.monotonic() });
  // The hung engine call is ours to unwind: a completed end aborts nothing by itself.
  task.abortCall(new Error('test over'));
  return task;
}

const endData = (task: Task) => task.log.since(0).find((e) => e.event === 'end')?.data;

describe('a task ended by a stop string', () => {
  it('names the stop string in its end event and status when the engine named one the request sent', async () => {
    const task = await endedWith({ state: 'completed', finishReason: 'stop', stopSequence: '\n\n' });
    expect(endData(task)).toEqual({ tokens_out: 1, decode_time_ms: expect.any(Number), finish_reason: 'stop', stop_sequence: '\n\n' });
    expect(task.status(undefined)).toMatchObject({ state: 'completed', finish_reason: 'stop', stop_sequence: '\n\n' });
  });

  it('names none for a stop string the request never sent (a reverse prompt configured at the engine)', async () => {
    const task = await endedWith({ state: 'completed', finishReason: 'stop', stopSequence: 'User:' });
    expect(endData(task)).not.toHaveProperty('stop_sequence');
    expect(task.status(undefined)).not.toHaveProperty('stop_sequence');
  });

  it('names none when the answer ended for another reason than a stop', async () => {
    const task = await endedWith({ state: 'completed', finishReason: 'length', stopSequence: 'END' });
    expect(endData(task)).toEqual({ tokens_out: 1, decode_time_ms: expect.any(Number), finish_reason: 'length' });
  });
});
