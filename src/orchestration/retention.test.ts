// Retention of finished tasks on a fake clock: a finished task stays readable for exactly
// server.retention_ms, and past server.max_finished_tasks the oldest finished task goes first.
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceKit, type ServiceKit } from '../../test/support/task-service.ts';

let kit: ServiceKit | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
});

/** Tasks hang before their first token, so only a cancel ends them, at a fake time we choose. */
const start = (server: Record<string, unknown>) => startServiceKit({ config: { server }, mock: { hang_at_token: 0 } });

// ORCH-0406 ORCH-0903
describe('finished task retention', () => {
  it('forgets a finished task retention_ms after its end, not before', async () => {
    kit = await start({ retention_ms: 10_000 });
    const task = await kit.submit({ task_id: 'kept' });
    kit.clock.advance(2_000);
    kit.service.cancel(task.id);
    kit.clock.advance(9_999);
    expect(kit.service.get('kept')).toBe(task);
    expect(kit.service.size).toBe(1);
    kit.clock.advance(1);
    expect(kit.service.get('kept')).toBeUndefined();
    expect(kit.service.size).toBe(0);
  });

  it('keeps the task_id taken while retained and frees it (with its idempotency key) after', async () => {
    kit = await start({ retention_ms: 10_000 });
    const task = await kit.submit({ task_id: 'reused', prompt: 'first' });
    kit.service.cancel(task.id);
    const early = await kit.service.submit({ model: 'demo', prompt: 'second', max_tokens: 4, task_id: 'reused' }, 'c1');
    expect(early.ok ? 'admitted' : early.error.code).toBe('CONFLICT');
    kit.clock.advance(10_000);
    const again = await kit.submit({ task_id: 'reused', prompt: 'second' });
    expect(again).not.toBe(task);
    expect(again.state).toBe('running');
  });

  it('forgets the oldest finished task first once max_finished_tasks are held', async () => {
    kit = await start({ retention_ms: 10_000, max_finished_tasks: 2 });
    const [a, b, c] = [await kit.submit({ task_id: 'a' }), await kit.submit({ task_id: 'b' }), await kit.submit({ task_id: 'c' })];
    kit.service.cancel('a');
    kit.clock.advance(10);
    kit.service.cancel('b');
    kit.clock.advance(10);
    expect([kit.service.get('a'), kit.service.get('b'), kit.service.get('c')]).toEqual([a, b, c]);
    kit.service.cancel('c');
    // The third ending pushes the oldest out before its retention window ends.
    expect([kit.service.get('a'), kit.service.get('b'), kit.service.get('c')]).toEqual([undefined, b, c]);
    // The others keep their own windows: b ended at 10, c at 20.
    kit.clock.advance(10_009 - 20);
    expect([kit.service.get('b'), kit.service.get('c')]).toEqual([b, c]);
    kit.clock.advance(1);
    expect([kit.service.get('b'), kit.service.get('c')]).toEqual([undefined, c]);
    kit.clock.advance(10);
    expect(kit.service.get('c')).toBeUndefined();
    expect(kit.service.size).toBe(0);
  });

  it('counts only finished tasks toward max_finished_tasks', async () => {
    kit = await start({ retention_ms: 10_000, max_finished_tasks: 1 });
    const running = await kit.submit({ task_id: 'running' });
    const done = await kit.submit({ task_id: 'done' });
    kit.service.cancel('done');
    expect(kit.service.get('done')).toBe(done);
    expect(kit.service.get('running')).toBe(running);
    expect(running.state).toBe('running');
  });
});

// ORCH-0903 (issue 10 finding 1)
describe('retention bounded by bytes', () => {
  it('forgets the oldest finished tasks once their estimated bytes pass retention_max_bytes', async () => {
    kit = await startServiceKit({ config: { server: { retention_ms: 60_000 } }, pool: { replicas: [{ id: 'mock-0', slots: 4 }] }, mock: { hang_at_token: 0 } });
    const tasks = [];
    for (const id of ['a', 'b', 'c', 'd']) tasks.push(await kit.submit({ task_id: id }));
    kit.service.cancel('a');
    const each = tasks[0]?.retainedBytes ?? 0;
    expect(kit.service.retainedBytes).toBe(each);
    // Room for two such tasks, not three.
    kit.config.server.retention_max_bytes = 2 * each + each / 2;
    kit.service.cancel('b');
    expect(kit.service.retainedBytes).toBe(2 * each);
    kit.service.cancel('c');
    expect([kit.service.get('a'), kit.service.get('b'), kit.service.get('c')]).toEqual([undefined, tasks[1], tasks[2]]);
    expect(kit.service.retainedBytes).toBe(2 * each);
    kit.service.cancel('d');
    expect(kit.service.get('b')).toBeUndefined();
    expect(kit.service.size).toBe(2);
    // Forgetting by time gives the bytes back too.
    kit.clock.advance(60_000);
    expect([kit.service.size, kit.service.retainedBytes]).toEqual([0, 0]);
  });

  it('retains nothing with retention_max_bytes 0, yet ends the task with its terminal event', async () => {
    kit = await start({ retention_ms: 60_000, retention_max_bytes: 0 });
    const task = await kit.submit({ task_id: 'gone' });
    kit.service.cancel('gone');
    expect(task.log.terminal?.event).toBe('end');
    expect([kit.service.get('gone'), kit.service.size, kit.service.retainedBytes]).toEqual([undefined, 0, 0]);
  });

  it('keeps a finished task whose prompt was large at the size of its log, not its prompt', async () => {
    kit = await startServiceKit({ config: { server: { retention_ms: 60_000 } }, mock: { hang_at_token: 0, ctx_max: 65_536 } });
    const task = await kit.submit({ prompt: 'x'.repeat(150_000) });
    expect(task.prompt).toHaveLength(150_000);
    expect(task.retainedBytes).toBeGreaterThan(300_000);
    kit.service.cancel(task.id);
    expect(task.prompt).toBeUndefined();
    expect(kit.service.retainedBytes).toBeLessThan(4_096);
  });
});

// ORCH-0906 (issue 10 finding 1)
describe('prompt release', () => {
  it('holds the prompt while the task may still be re-placed and drops it at the first token', async () => {
    kit = await startServiceKit({ mock: { hang_at_token: 2 } });
    const task = await kit.submit({ prompt: 'needed until the first token' });
    expect(task.state).toBe('running');
    await kit.tokens(task, 1);
    expect(task.prompt).toBeUndefined();
    expect(task.request).not.toHaveProperty('prompt');
  });

  it('keeps the prompt of a running task that has produced no token yet', async () => {
    kit = await start({});
    const task = await kit.submit({ prompt: 'may be re-placed' });
    expect([task.state, task.prompt]).toEqual(['running', 'may be re-placed']);
  });

  it('keeps the prompt of a queued task and drops it when the queued task is canceled', async () => {
    kit = await startServiceKit({ pool: { replicas: [{ id: 'mock-0', slots: 1 }] }, mock: { hang_at_token: 0 } });
    await kit.submit();
    const waiting = await kit.submit({ prompt: 'waiting' });
    expect([waiting.state, waiting.prompt]).toEqual(['queued', 'waiting']);
    kit.service.cancel(waiting.id);
    expect(waiting.prompt).toBeUndefined();
  });
});

describe('FinishedTasks order', () => {
  it('forgets the oldest still retained under the count bound after timers forgot tasks out of order', async () => {
    const { FinishedTasks } = await import('./retention.ts');
    const timers: Array<{ fn: () => void; canceled: boolean }> = [];
    const clock = {
      now: () => 0,
      monotonic: () => 0,
      setTimer: (_ms: number, fn: () => void) => {
        const t = { fn, canceled: false };
        timers.push(t);
        return { cancel: () => void (t.canceled = true), refresh: () => undefined };
      },
    };
    const forgotten: string[] = [];
    let max = 3;
    const finished = new FinishedTasks({ clock, retentionMs: () => 1_000, max: () => max, maxBytes: () => 1e9, onForget: (task) => forgotten.push(task.id) });
    const task = (id: string) => ({ id, retainedBytes: 10, log: { close: () => undefined } }) as never;
    for (const id of ['a', 'b', 'c']) finished.add(task(id));
    timers[1]?.fn(); // b's window ends first (a reload shortened retention_ms)
    finished.add(task('d'));
    expect(forgotten).toEqual(['b']);
    finished.add(task('e'));
    expect(forgotten).toEqual(['b', 'a']);
    max = 1;
    finished.add(task('f'));
    expect(forgotten).toEqual(['b', 'a', 'c', 'd', 'e']);
    expect([finished.size, finished.bytes]).toEqual([1, 10]);
    for (let i = 0; i < 3000; i++) finished.add(task(`t${i}`));
    expect(finished.size).toBe(1);
    expect(forgotten.at(-1)).toBe('t2998');
  });
});
