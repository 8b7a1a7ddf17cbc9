// The invariants every chaos journey ends on (issue 10 "standing suites"): each admitted task has
// exactly one terminal event, last in its log, and nothing is left holding capacity — no busy
// gateway slot, no queued task, no busy engine slot.

import { request } from 'undici';
import { expect } from 'vitest';
import { openStream, terminal, type ReceivedEvent } from '../support/sse-client.ts';

export interface Admitted {
  id: string;
  /** The events its client read, when it read the stream to its end. */
  events?: ReceivedEvent[];
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await request(url);
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Posts one task; the id when it got a 202, else undefined (refusals are allowed in a fault). */
export async function submit(base: string, body: Record<string, unknown>): Promise<string | undefined> {
  const res = await request(`${base}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode !== 202) {
    // A refusal is a typed envelope with a 4xx or a 503, never another 5xx.
    expect(res.statusCode === 503 || (res.statusCode >= 400 && res.statusCode < 500), text).toBe(true);
    expect((JSON.parse(text) as { error?: { code?: string } }).error?.code, text).toBeTypeOf('string');
    return undefined;
  }
  return (JSON.parse(text) as { task_id: string }).task_id;
}

/**
 * Every admitted task ends with exactly one terminal event, the last of its log: read again by a
 * late reader (which replays the whole log), and in what its own client read, if it read it all.
 */
export async function expectOneTerminalEach(base: string, admitted: readonly Admitted[]): Promise<Map<string, ReceivedEvent>> {
  const ends = new Map<string, ReceivedEvent>();
  for (const task of admitted) {
    const late = await openStream(`${base}/v1/tasks/${task.id}/stream`, { timeoutMs: 15_000 });
    expect(late.status, task.id).toBe(200);
    const found = terminal(late.events);
    expect(found, task.id).toHaveLength(1);
    expect(late.events.at(-1), task.id).toEqual(found[0]);
    if (task.events) expect(terminal(task.events), task.id).toEqual(found);
    ends.set(task.id, found[0] as ReceivedEvent);
  }
  return ends;
}

/** No leaked slot: the pool has no busy slot and an empty queue, and neither has any engine. */
export async function expectNothingHeld(base: string, poolId: string, engines: ReadonlyArray<{ busySlots(): number }> = []): Promise<void> {
  await expect.poll(async () => {
    const pool = (await getJson(`${base}/v1/pools/${poolId}`)).body as { slots: { busy: number }; queue: { depth: number } };
    return { busy: pool.slots.busy, queued: pool.queue.depth, engineBusy: engines.map((e) => e.busySlots()) };
  }, { timeout: 5_000 }).toEqual({ busy: 0, queued: 0, engineBusy: engines.map(() => 0) });
}

export const errorCode = (event: ReceivedEvent | undefined): string | undefined => (event?.event === 'error' ? (event.data.code as string) : undefined);
