// The real TaskService (with its dispatcher and retention) over in-memory ports, a real
// PoolManager of mock engines and a FakeClock: unit tests of the shell's timing move time by
// hand. The mock engine itself streams on real time; its `hang_at_token` fault holds a stream
// open so only the fake clock decides when a watchdog or deadline fires.

import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { vi } from 'vitest';
import { engineCatalog } from '../../src/adapters/registry.ts';
import type { Config } from '../../src/config/schema.ts';
import { IdempotencyIndex } from '../../src/core/admission/idempotency.ts';
import type { AdmissionRecorder, LifecycleObserver, TerminalFact } from '../../src/core/observer.ts';
import { MemorySessionStore } from '../../src/core/session/session-store.ts';
import { TaskEventLog } from '../../src/core/task/event-log.ts';
import type { Task, TaskRequest } from '../../src/orchestration/task.ts';
import { TaskService } from '../../src/orchestration/task-service.ts';
import { PoolManager } from '../../src/pool/pool-manager.ts';
import { systemClock } from '../../src/system-clock.ts';
import { FakeClock } from './fake-clock.ts';
import { mockPool, testConfig } from './gateway.ts';

export interface ServiceKit {
  service: TaskService;
  clock: FakeClock;
  pools: PoolManager<Task>;
  sessions: MemorySessionStore;
  config: Config;
  /** Terminal facts the observer saw, in order. */
  finished: TerminalFact[];
  /** Every task's event log, in creation order (visible before the task is). */
  logs: TaskEventLog[];
  /** Submits a task (model `demo`, 4 tokens unless overridden); throws on a refusal. */
  submit(over?: Partial<TaskRequest>): Promise<Task>;
  /** Waits (real time) until the task has streamed `n` tokens from the mock engine. */
  tokens(task: Task, n: number): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceKitOptions {
  /** Config overrides (as in testConfig), e.g. `{ server: {...} }`. */
  config?: Record<string, unknown>;
  /** Pool overrides and mock engine settings (as in mockPool). */
  pool?: Record<string, unknown>;
  mock?: Record<string, unknown>;
  recorder?: AdmissionRecorder;
  /** Observes lifecycle facts beside the kit's own `finished` list. */
  observer?: LifecycleObserver;
}

export async function startServiceKit(opts: ServiceKitOptions = {}): Promise<ServiceKit> {
  const config = testConfig({ pools: [mockPool(opts.pool, opts.mock)], ...opts.config });
  const clock = new FakeClock();
  const logger = pino({ level: 'silent' });
  // Health probes run on real time: the fake clock holds only the task timers the tests count.
  const pools = new PoolManager<Task>(config.pools, { clock, probeClock: systemClock, logger, engines: engineCatalog, maxTokensOf: (task) => task.request.max_tokens });
  const sessions = new MemorySessionStore({ ttlMs: config.sessions.ttl_ms, maxTurns: config.sessions.max_turns, maxSessions: config.sessions.max_sessions }, clock);
  const finished: TerminalFact[] = [];
  const logs: TaskEventLog[] = [];
  const service = new TaskService({
    config,
    pools,
    sessions,
    idempotency: new IdempotencyIndex({ maxEntries: 1_000, ttlMs: 24 * 3_600_000 }, clock),
    newEventLog: () => {
      const log = new TaskEventLog();
      logs.push(log);
      return log;
    },
    clock,
    ids: { uuid: randomUUID },
    observer: { ...opts.observer, finished: (fact) => { finished.push(fact); opts.observer?.finished?.(fact); } },
    recorder: opts.recorder ?? { accepting: () => true, commitAdmission: async () => {} },
    logger,
  });
  await pools.probeAll();
  return {
    service,
    clock,
    pools,
    sessions,
    config,
    finished,
    logs,
    async submit(over = {}) {
      const result = await service.submit({ model: 'demo', prompt: 'timing', max_tokens: 4, ...over }, randomUUID());
      if (!result.ok) throw new Error(`refused: ${result.error.code} ${result.error.message}`);
      return result.value.task;
    },
    async tokens(task, n) {
      await vi.waitFor(() => {
        if (task.tokensOut < n) throw new Error(`task ${task.id} has ${task.tokensOut} of ${n} tokens`);
      });
    },
    async close() {
      service.shutdown();
      await pools.close();
    },
  };
}
