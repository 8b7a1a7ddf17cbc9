// The official OpenAI and Anthropic SDKs pointed at a test gateway (issue 11), plus what the
// dialect suites observe around them: each HTTP attempt the SDK makes (its own retries
// included), lifecycle facts with arrival times, a task's status, and metric values.

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import type { AdmittedFact, LifecycleObserver, TerminalFact } from '../../src/core/observer.ts';
import type { TestGateway } from './gateway.ts';

/**
 * A connection pool of the suite's own for the SDKs, closed with the suite. An aborted SDK
 * request can leave the pool holding a fresh, silent connection, and the gateway's close waits
 * for it until the header timeout; on a private pool, `close()` ends it.
 */
export function clientTransport(): { fetch: typeof fetch; close(): Promise<void> } {
  const agent = new Agent();
  // The SDKs pass a URL string and a RequestInit; undici's own fetch takes both (its types are
  // its own classes, structurally the same as the globals).
  const viaAgent = (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as string | URL, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
  return { fetch: viaAgent, close: () => agent.destroy() };
}

/** One HTTP attempt as the SDK made it: when it left, and what came back. */
export interface Attempt {
  sentAtMs: number;
  answeredAtMs: number;
  status: number;
  retryAfterMs: string | null;
  retryAfter: string | null;
}

/** A `fetch` that records every attempt the SDK makes, for timing its retries. */
export function recordingFetch(base: typeof fetch): { fetch: typeof fetch; attempts: Attempt[] } {
  const attempts: Attempt[] = [];
  const recorder: typeof fetch = async (input, init) => {
    const sentAtMs = performance.now();
    const res = await base(input, init);
    attempts.push({ sentAtMs, answeredAtMs: performance.now(), status: res.status, retryAfterMs: res.headers.get('retry-after-ms'), retryAfter: res.headers.get('retry-after') });
    return res;
  };
  return { fetch: recorder, attempts };
}

/** SDK retries are off unless a test turns them on: a refusal should reach the assertion. */
export function openAiClient(gw: TestGateway, opts: ConstructorParameters<typeof OpenAI>[0] = {}): OpenAI {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused-by-an-open-gateway', maxRetries: 0, ...opts });
}

export function anthropicClient(gw: TestGateway, opts: ConstructorParameters<typeof Anthropic>[0] = {}): Anthropic {
  return new Anthropic({ baseURL: gw.url, apiKey: 'unused-by-an-open-gateway', maxRetries: 0, ...opts });
}

export interface TimedFact<T> {
  atMs: number;
  fact: T;
}

/** A lifecycle observer that keeps what it saw, with `performance.now()` arrival times. */
export function factRecorder() {
  const admitted: AdmittedFact[] = [];
  const finished: Array<TimedFact<TerminalFact>> = [];
  const waiters: Array<() => void> = [];
  const observer: LifecycleObserver = {
    admitted: (fact) => void admitted.push(fact),
    finished: (fact) => {
      finished.push({ atMs: performance.now(), fact });
      for (const wake of waiters.splice(0)) wake();
    },
  };
  /** The terminal fact of a task, waiting for it up to `timeoutMs`. */
  async function finishedOf(taskId: string, timeoutMs = 5_000): Promise<TimedFact<TerminalFact>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = finished.find((f) => f.fact.task_id === taskId);
      if (seen) return seen;
      if (performance.now() > deadline) throw new Error(`task ${taskId} did not finish within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  return { observer, admitted, finished, finishedOf };
}

export interface TaskView {
  task_id: string;
  state: string;
  tokens_out: number;
  finish_reason?: string;
  stop_sequence?: string;
}

export async function taskView(gw: TestGateway, taskId: string | null): Promise<TaskView> {
  if (taskId === null) throw new Error('the response carried no x-task-id header');
  const res = await gw.get(`/v1/tasks/${taskId}`);
  if (res.status !== 200) throw new Error(`GET /v1/tasks/${taskId} answered ${res.status}: ${res.text}`);
  return res.body as TaskView;
}

/** A sample's value in the Prometheus text exposition (0 when the series is absent). */
export function metricValue(exposition: string, name: string, labels: Record<string, string>): number {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const pairs = new Map([...line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => pairs.get(k) === v)) return Number(line.slice(close + 1).trim());
  }
  return 0;
}
