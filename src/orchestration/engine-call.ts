// One engine call of a placed task: the request built for its replica, the call in push form,
// and the per-read sink that feeds the task's log. The sink is the token path (issue 14): one
// closure per call, no allocation or promise per token or per read.

import { type CanonicalEvent, type CanonicalRequest, type EventSink } from '../adapters/contract.ts';
import { FREE_SHAPE, handOff } from '../core/chat/handoff.ts';
import type { ChatWarning } from '../core/chat/warning.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import type { Timer, TimerClock } from '../core/ports.ts';
import type { Pool } from '../pool/pool.ts';
import type { Lease, Replica } from '../pool/replica.ts';
import type { Ending, Task } from './task.ts';

/** What the sink reaches outside the task: the clock, the lifecycle facts, the task's end. */
export interface SinkDeps {
  clock: TimerClock;
  observer: LifecycleObserver;
  finish: (task: Task, ending: Ending) => boolean;
}

/**
 * The task's one sink for its engine call: each engine read's events go to its log in one
 * synchronous call (no promise per token); false once the task has ended.
 */
export function sinkFor(deps: SinkDeps, pool: Pool<Task>, task: Task, replica: Replica, held: { idle: Timer; lease: Lease }): EventSink {
  const { clock } = deps;
  const engine = pool.config.engine;
  const { idle, lease } = held;
  return (events) => {
    try {
      for (const event of events) {
        if (task.finished) return false;
        if (event.type === 'token') {
          if (task.token(event.text, clock)) firstToken(deps.observer, task, replica, engine);
        } else if (event.type === 'tool_call_delta') {
          if (task.toolCall(event, clock)) firstToken(deps.observer, task, replica, engine);
        } else {
          replica.breaker.success();
          deps.finish(task, {
            state: 'completed',
            finishReason: event.finishReason,
            ...(event.promptTokens !== undefined ? { promptTokens: event.promptTokens } : {}),
            ...(event.cachedTokens !== undefined ? { cachedTokens: event.cachedTokens } : {}),
            ...(event.slotId !== undefined ? { slotId: event.slotId } : {}),
            ...(event.costUsd !== undefined ? { costUsd: event.costUsd } : {}),
            ...(event.stopSequence !== undefined ? { stopSequence: event.stopSequence } : {}),
          });
          observeSpeed(pool, replica, task);
        }
      }
      // The events of one read arrived together: the idle watchdog restarts once for them.
      idle.refresh();
      return !task.finished;
    } finally {
      // Once per read, before anything else runs: the predictions' tally sees every token of it.
      lease.progressed();
    }
  };
}

function firstToken(observer: LifecycleObserver, task: Task, replica: Replica, engine: string): void {
  const firstMono = task.firstTokenMono ?? 0;
  observer.firstToken?.({
    ...task.facts(),
    replica_id: replica.id,
    engine,
    ttft_ms: Math.round(firstMono - (task.startedMono ?? firstMono)),
  });
}

/** Feeds the completed task's figures (computed once, by the task) to replica and pool stats. */
function observeSpeed(pool: Pool<Task>, replica: Replica, task: Task): void {
  const f = task.figures;
  if (!f) return;
  if (f.tokensPerS > 0) replica.observeSpeed(f.tokensPerS);
  pool.stats.observe({ serviceMs: f.serviceMs, tokens: task.tokensOut, ttftMs: f.ttftMs, tokensPerS: f.tokensPerS, maxTokens: task.request.max_tokens });
}

/** The engine request; a conversation is first rewritten into the shape this replica's adapter takes (handoff). */
export function canonical(task: Task, replica: Replica): { request: CanonicalRequest; warnings: ChatWarning[] } {
  const r = task.request;
  const prompt = task.prompt;
  // The prompt is released only once no placement can follow (mayReplace): a bug otherwise.
  if (prompt === undefined) throw new Error(`task ${task.id}: placed after its prompt was released`);
  const caps = replica.adapter.capabilities;
  const held = task.chat;
  const chat = held !== undefined && caps.chat !== undefined ? handOff(held, { caps: caps.chat, shape: caps.chatShape ?? FREE_SHAPE }) : undefined;
  const slot = task.affinity?.replica_id === replica.id ? task.affinity.slot_id : undefined;
  const request: CanonicalRequest = {
    taskId: task.id,
    model: task.pool.config.engine_model ?? task.pool.config.model,
    prompt,
    maxTokens: r.max_tokens,
    ...(r.seed !== undefined ? { seed: r.seed } : {}),
    ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
    ...(r.top_p !== undefined ? { topP: r.top_p } : {}),
    ...(r.stop !== undefined ? { stop: r.stop } : {}),
    ...(slot !== undefined && replica.adapter.capabilities.slotAffinity ? { slotId: slot } : {}),
    ...(r.session_id !== undefined ? { cachePrompt: true } : {}),
    ...(held !== undefined ? { chat: chat?.conversation ?? held } : {}),
  };
  return { request, warnings: chat?.warnings ?? [] };
}

/** The engine call in push form: the adapter's own `streamTo`, else its pull stream fed to the sink. */
export function streamTo(replica: Replica, call: CanonicalRequest, signal: AbortSignal, sink: EventSink): Promise<void> {
  const { adapter } = replica;
  return adapter.streamTo ? adapter.streamTo(call, signal, sink) : pushEach(adapter.stream(call, signal), sink);
}

/** Feeds an adapter that only iterates (stream()) to a sink, one event at a time. */
async function pushEach(events: AsyncIterable<CanonicalEvent>, sink: EventSink): Promise<void> {
  const one: CanonicalEvent[] = [];
  for await (const event of events) {
    one[0] = event;
    if (!sink(one)) return;
  }
}
