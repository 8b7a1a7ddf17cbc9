// The dispatcher's idle and wall watchdogs on a fake clock. The mock engine hangs its stream
// (`hang_at_token`), so nothing but the fake clock decides when a watchdog fires.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockPool } from '../../test/support/gateway.ts';
import { startServiceKit, type ServiceKit } from '../../test/support/task-service.ts';

let kit: ServiceKit | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
});

const timeouts = (idle_ms: number, wall_ms: number) => ({ timeouts: { idle_ms, wall_ms } });

// ORCH-0603
describe('dispatcher watchdogs', () => {
  it('ends a stream silent for idle_ms after its first token with DECODE_TIMEOUT, not a millisecond before', async () => {
    kit = await startServiceKit({ pool: timeouts(5_000, 60_000), mock: { hang_at_token: 2 } });
    const task = await kit.submit();
    await kit.tokens(task, 2);
    kit.clock.advance(4_999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    expect(task.status(undefined)).toMatchObject({ state: 'failed', tokens_out: 2, error: { code: 'DECODE_TIMEOUT', retriable: true, engine: 'mock' } });
    expect(task.status(undefined).error?.message).toMatch(/sent nothing for 5000 ms/);
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: task.id, state: 'failed', error_code: 'DECODE_TIMEOUT', tokens_out: 2 })]);
  });

  it('ends a stream running longer than wall_ms with DECODE_TIMEOUT, not a millisecond before', async () => {
    kit = await startServiceKit({ pool: timeouts(60_000, 5_000), mock: { hang_at_token: 2 } });
    const task = await kit.submit();
    await kit.tokens(task, 2);
    kit.clock.advance(4_999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    expect(task.status(undefined)).toMatchObject({ state: 'failed', error: { code: 'DECODE_TIMEOUT' } });
    expect(task.status(undefined).error?.message).toMatch(/decode exceeded 5000 ms/);
  });

  it('re-places a task whose engine was silent before the first token once, then ends it with DECODE_TIMEOUT', async () => {
    kit = await startServiceKit({
      pool: { ...timeouts(1_000, 60_000), replicas: [{ id: 'mock-0', slots: 1 }, { id: 'mock-1', slots: 1 }] },
      mock: { hang_at_token: 0 },
    });
    const task = await kit.submit();
    const first = task.replica?.id;
    expect(task.state).toBe('running');
    kit.clock.advance(1_000);
    // The aborted call unwinds on real time; the task is then running on the other replica.
    await expect.poll(() => task.tried.length).toBe(1);
    await expect.poll(() => task.replica?.id).toBeDefined();
    expect(task.tried).toEqual([first]);
    const second = task.replica?.id;
    expect(second).not.toBe(first);
    expect(task.log.since(0).filter((e) => e.event === 'started')).toHaveLength(2);
    kit.clock.advance(999);
    expect(task.state).toBe('running');
    kit.clock.advance(1);
    await expect.poll(() => task.state).toBe('failed');
    expect(task.status(undefined)).toMatchObject({ error: { code: 'DECODE_TIMEOUT' }, tokens_out: 0 });
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: task.id, error_code: 'DECODE_TIMEOUT', replica_id: second })]);
  });

  it('cancels both watchdogs when the stream completes', async () => {
    kit = await startServiceKit({ pool: timeouts(1_000, 2_000) });
    const task = await kit.submit({ max_tokens: 3 });
    await expect.poll(() => task.state).toBe('completed');
    // Only the retention timer is left: no watchdog can end the completed task later.
    await expect.poll(() => kit?.clock.timers).toBe(1);
    kit.clock.advance(5_000);
    expect(task.status(undefined)).toMatchObject({ state: 'completed', finish_reason: 'length', tokens_out: 3 });
  });
});

// Issue 13 item 6, on mock pools: a primary that resets before every first token.
describe('dispatcher fallback hops', () => {
  const pools = (primaryFallbacks: string[], backupMock: Record<string, unknown> = {}) => ({
    pools: [
      mockPool({ id: 'primary', model: 'demo', fallbacks: primaryFallbacks, replicas: [{ id: 'p0', slots: 1 }] }, { reset_before_first_token: true }),
      mockPool({ id: 'backup', model: 'backup', replicas: [{ id: 'b0', slots: 1 }] }, backupMock),
    ],
  });

  it('re-places once on the pool, then moves the task to the fallback, which completes it with one terminal fact', async () => {
    kit = await startServiceKit({ config: pools(['backup']) });
    const task = await kit.submit();
    await vi.waitFor(() => expect(task.finished).toBe(true));
    expect(task.status(undefined)).toMatchObject({ state: 'completed', pool_id: 'backup', replica_id: 'b0', tokens_out: 4 });
    expect(task.pools).toEqual(['primary', 'backup']);
    expect(task.attempt).toBe(3);
    expect(task.tried).toEqual([]);
    expect(kit.finished).toEqual([expect.objectContaining({ task_id: task.id, state: 'completed', pool_id: 'backup' })]);
  });

  it('never enters a pool twice and ends with the last failure when every pool fails before the first token', async () => {
    kit = await startServiceKit({ config: pools(['backup'], { reset_before_first_token: true }) });
    const task = await kit.submit();
    await vi.waitFor(() => expect(task.finished).toBe(true));
    expect(task.status(undefined)).toMatchObject({ state: 'failed', pool_id: 'backup', error: { code: 'WORKER_RESET' } });
    expect(task.pools).toEqual(['primary', 'backup']);
    expect(kit.finished).toHaveLength(1);
  });

  it('keeps the task on its pool without fallbacks (the failure ends it after one re-placement)', async () => {
    kit = await startServiceKit({ config: pools([]) });
    const task = await kit.submit();
    await vi.waitFor(() => expect(task.finished).toBe(true));
    expect(task.status(undefined)).toMatchObject({ state: 'failed', pool_id: 'primary', error: { code: 'WORKER_RESET' } });
    expect(task.pools).toEqual(['primary']);
    expect(task.attempt).toBe(2);
  });
});
