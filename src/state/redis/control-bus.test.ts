// The control bus against the real Redis: a command reaches only the replica it names, the ack
// comes back after the owner's handler finished, and the two failures are typed at once
// (nobody listening) or after the timeout (nobody answering).

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { systemClock } from '../../system-clock.ts';
import type { TimerClock } from '../../core/ports.ts';
import { ControlBus, type ControlCommand, type ControlHandler } from './control-bus.ts';
import { stateKeys } from './keys.ts';

let ctx: RedisTestContext;
const buses: ControlBus[] = [];

async function bus(replicaId: string, handler: ControlHandler, clock: TimerClock = systemClock): Promise<ControlBus> {
  const b = new ControlBus({ redis: ctx.client, subscriber: ctx.connect(), keys: stateKeys(ctx.prefix), replicaId, handler, clock, ids: { uuid: randomUUID } });
  await b.start();
  buses.push(b);
  return b;
}

const never: ControlHandler = () => new Promise(() => {});

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(async () => {
  for (const b of buses.splice(0)) await b.close();
  await ctx.cleanup();
});

describe('ControlBus', () => {
  it('delivers a cancel to the owning replica only and acks after its handler finished', async () => {
    const seen: Array<[string, ControlCommand, string]> = [];
    const order: string[] = [];
    const owner = (id: string): ControlHandler => async (command, from) => {
      seen.push([id, command, from]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('handler done');
      return { ok: true, detail: { canceled: command.kind === 'cancel' ? command.task_id : undefined } };
    };
    await bus('gw-a', owner('gw-a'));
    await bus('gw-c', owner('gw-c'));
    const b = await bus('gw-b', owner('gw-b'));
    const result = await b.send('gw-a', { kind: 'cancel', task_id: 'task-1' });
    order.push('ack');
    expect(result).toEqual({ ok: true, reply: { ok: true, detail: { canceled: 'task-1' } } });
    expect(seen).toEqual([['gw-a', { kind: 'cancel', task_id: 'task-1' }, 'gw-b']]);
    expect(order).toEqual(['handler done', 'ack']);
  });

  it('routes drain and reload to the named replica and returns its refusal as a reply', async () => {
    await bus('gw-a', async (command) => (command.kind === 'drain' ? { ok: false, message: `no pool ${command.pool_id}` } : { ok: true }));
    const b = await bus('gw-b', never);
    expect(await b.send('gw-a', { kind: 'drain', pool_id: 'ghost', deadline_ms: 1_000 })).toEqual({ ok: true, reply: { ok: false, message: 'no pool ghost' } });
    expect(await b.send('gw-a', { kind: 'reload' })).toEqual({ ok: true, reply: { ok: true } });
  });

  it('answers CONTROL_UNREACHABLE at once when no replica listens on the target channel', async () => {
    const clock = new FakeClock();
    const b = await bus('gw-b', never, clock);
    const result = await b.send('gw-gone', { kind: 'cancel', task_id: 't' });
    expect(result.ok ? undefined : result.error.code).toBe('CONTROL_UNREACHABLE');
    expect(clock.timers).toBe(0);
  });

  it('answers CONTROL_TIMEOUT when the owner does not acknowledge in time', async () => {
    const clock = new FakeClock();
    let delivered: () => void = () => {};
    const reached = new Promise<void>((resolve) => (delivered = resolve));
    await bus('gw-a', () => {
      delivered();
      return new Promise(() => {});
    });
    const b = await bus('gw-b', never, clock);
    const sent = b.send('gw-a', { kind: 'cancel', task_id: 't' }, 2_000);
    await reached;
    clock.advance(1_999);
    clock.advance(1);
    const result = await sent;
    expect(result.ok ? undefined : [result.error.code, result.error.message]).toEqual(['CONTROL_TIMEOUT', 'replica gw-a did not acknowledge cancel within 2000 ms']);
  });

  it('ignores messages on its channel that are not control envelopes', async () => {
    const calls: ControlCommand[] = [];
    await bus('gw-a', async (command) => (calls.push(command), { ok: true }));
    const b = await bus('gw-b', never);
    const channel = stateKeys(ctx.prefix).control('gw-a');
    for (const junk of ['not json', '{}', '{"type":"request","id":"x","from":"gw-b","command":{"kind":"format-disk"}}']) await ctx.client.publish(channel, junk);
    expect(await b.send('gw-a', { kind: 'reload' })).toEqual({ ok: true, reply: { ok: true } });
    expect(calls).toEqual([{ kind: 'reload' }]);
  });
});
