// Client side of the multi-replica tests: tasks submitted to random gateways of a cluster and
// read to their end in the same request (`Accept: text/event-stream`), and what the engines saw.

import { request } from 'undici';
import { SseParser } from '../../src/transport/sse-parser.ts';
import { MODEL, type Cluster, type ClusterGateway } from '../support/cluster.ts';
import { openStream, terminal, type ReceivedEvent } from '../support/sse-client.ts';

export interface TaskOutcome {
  /** The gateway the task was submitted to. */
  submittedTo: string;
  status: number;
  /** The refusal body when the status is not 200. */
  body?: unknown;
  events: ReceivedEvent[];
}

export interface LoadPlan {
  tasks: number;
  /** Tasks in flight from the client at once. */
  concurrency: number;
  maxTokens: number;
  /** Per-stream read timeout. */
  timeoutMs?: number;
  /** Submit only to these gateways (default: any running gateway of the cluster). */
  to?: readonly ClusterGateway[];
}

export const taskBody = (prompt: string, maxTokens: number, over: Record<string, unknown> = {}) => ({ model: MODEL, prompt, max_tokens: maxTokens, ...over });

/** Submits `plan.tasks` tasks, each to a gateway picked at random, and reads every stream to its end. */
export async function runLoad(cluster: Cluster, plan: LoadPlan): Promise<TaskOutcome[]> {
  const outcomes: TaskOutcome[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < plan.tasks; i = next++) {
      const gateway = plan.to === undefined ? cluster.any() : (plan.to[i % plan.to.length] as ClusterGateway);
      const stream = await openStream(`${gateway.url}/v1/tasks`, {
        method: 'POST',
        body: taskBody(`cluster load task ${i}`, plan.maxTokens),
        timeoutMs: plan.timeoutMs ?? 30_000,
      });
      outcomes.push({ submittedTo: gateway.replicaId, status: stream.status, body: stream.body, events: stream.events });
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  return outcomes;
}

/** One line per outcome that is not a 200 stream ending `end` with `length` after `maxTokens` tokens. */
export function incomplete(outcomes: readonly TaskOutcome[], maxTokens: number): string[] {
  const problems: string[] = [];
  for (const o of outcomes) {
    const ends = terminal(o.events);
    const tokenCount = o.events.filter((e) => e.event === 'token').length;
    const end = ends[0];
    const complete = o.status === 200 && ends.length === 1 && end?.event === 'end' && end.data.finish_reason === 'length' && tokenCount === maxTokens;
    if (!complete) problems.push(`${o.submittedTo}: status ${o.status} ${JSON.stringify(o.body ?? ends)} tokens ${tokenCount}`);
  }
  return problems;
}

/** Each engine's most concurrent generations against the slots every gateway was told it has. */
export function engineLoad(cluster: Cluster): Array<{ engine: string; slots: number; peak: number; generations: number }> {
  return cluster.engines.map((e) => ({ engine: e.id, slots: e.slots, peak: e.meter.peak, generations: e.meter.generations.length }));
}

export async function postJson(gateway: ClusterGateway, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
  const res = await request(`${gateway.url}${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

export async function getJson(gateway: ClusterGateway, path: string): Promise<{ status: number; body: unknown }> {
  const res = await request(`${gateway.url}${path}`);
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as unknown) : undefined };
}

export interface Follower {
  /** Events read so far (appended as they arrive). */
  readonly events: ReceivedEvent[];
  /** Resolves when the stream ended or its connection broke (never rejects); true when it ended. */
  readonly done: Promise<boolean>;
  stop(): void;
}

/**
 * Follows a task's stream on one gateway, from `afterId` (Last-Event-ID) when given, keeping what
 * it read even when the gateway dies under it.
 */
export function follow(gateway: ClusterGateway, taskId: string, afterId?: number): Follower {
  const events: ReceivedEvent[] = [];
  const ac = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (afterId !== undefined) headers['last-event-id'] = String(afterId);
  const done = (async () => {
    try {
      const res = await request(`${gateway.url}/v1/tasks/${taskId}/stream`, { headers, signal: ac.signal });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return false;
      }
      const parser = new SseParser();
      for await (const chunk of res.body) {
        for (const m of parser.push(chunk as Uint8Array)) {
          events.push({ id: Number(m.id), event: m.event ?? 'message', data: JSON.parse(m.data) as Record<string, unknown> });
        }
      }
      return terminal(events).length > 0;
    } catch {
      return false;
    }
  })();
  return { events, done, stop: () => ac.abort() };
}

/** The ids of a stream read in pieces: 1, 2, 3, … with no gap and no repeat, or the problem. */
export function sequenceProblem(events: readonly ReceivedEvent[]): string | undefined {
  for (let i = 0; i < events.length; i++) {
    if (events[i]?.id !== i + 1) return `event ${i} has id ${events[i]?.id}, expected ${i + 1}`;
  }
  return undefined;
}
