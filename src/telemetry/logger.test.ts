import { describe, expect, it } from 'vitest';
import type { AdmittedFact, TerminalFact } from '../core/observer.ts';
import { createLogObserver } from './log-observer.ts';
import { correlationIdFrom, createLogger, REDACTED, scrubSecrets, type LogLevel } from './logger.ts';

const SECRET = 'sk-live-5up3r5ecr3t';

function capture(level: LogLevel = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => void lines.push(s) } });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

/** Stands in for a Fastify request: a class instance whose raw message carries the headers. */
class FakeRequest {
  method = 'POST';
  url = `/v1/tasks?api_key=${SECRET}&stream=true`;
  routeOptions = { url: '/v1/tasks' };
  ip = '127.0.0.1';
  raw = { headers: { authorization: `Bearer ${SECRET}` } };
  headers = { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET };
}

describe('createLogger', () => {
  // ORCH-0802
  it('never writes a secret, wherever it sits in the logged object', () => {
    const { logger, lines } = capture('trace');
    logger.info({ req: { headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET } } }, 'raw headers');
    logger.info({ headers: { 'x-api-key': SECRET, Authorization: `Basic ${SECRET}`, accept: 'text/event-stream' } }, 'headers');
    logger.info({ api_key: SECRET, apiKey: SECRET, password: SECRET }, 'top level');
    logger.info({ a: { b: { c: { d: { api_key: SECRET } } } } }, 'deep');
    logger.info({ config: { auth: { data_tokens: [SECRET], control_tokens: [SECRET] }, pools: [{ replicas: [{ id: 'r1', options: { api_key: SECRET, headers: { Authorization: SECRET } } }] }] } }, 'config');
    logger.info({ engine_url: `http://admin:${SECRET}@10.0.0.5:8000/v1`, database_url: `postgres://orch:${SECRET}@db/orch` }, 'urls');
    logger.info({ req: new FakeRequest() }, 'incoming request');
    logger.child({ api_key: SECRET }).info({ nested: [{ token: SECRET }] }, 'child');
    logger.warn({ event: 'control', detail: { reload: { hf_token: SECRET } } }, 'control');
    const out = lines.join('');
    expect(lines).toHaveLength(9);
    expect(out).not.toContain(SECRET);
    expect(out).toContain(REDACTED);
    expect(out).toContain('text/event-stream'); // innocent neighbours survive
    expect(out).toContain('"route":"/v1/tasks"');
  });

  it('serializes requests without headers and keeps the useful fields', () => {
    const { logger, records } = capture();
    logger.info({ req: new FakeRequest(), res: { statusCode: 202, getHeaders: () => ({}) } }, 'done');
    const [line] = records();
    expect(line?.req).toEqual({ method: 'POST', url: `/v1/tasks?api_key=${REDACTED}&stream=true`, route: '/v1/tasks', remote_address: '127.0.0.1' });
    expect(line?.res).toEqual({ status_code: 202 });
    expect(line?.level).toBe('info');
  });

  it('leaves clean objects untouched instead of copying them', () => {
    const clean = { task_id: 't', pool_id: 'p', nested: { tokens_out: 3, max_tokens: 9 }, list: [1, 'a'] };
    expect(scrubSecrets(clean)).toBe(clean);
    const dirty = { nested: { apiKey: 'x' } };
    expect(scrubSecrets(dirty)).toEqual({ nested: { apiKey: REDACTED } });
    expect(dirty.nested.apiKey).toBe('x'); // the caller's object is not mutated
  });
});

describe('correlationIdFrom', () => {
  const fresh = () => 'generated';
  it('keeps a well-formed client id and replaces anything unsafe to echo', () => {
    expect(correlationIdFrom('req-1.a:b_c', fresh)).toBe('req-1.a:b_c');
    expect(correlationIdFrom(['first', 'second'], fresh)).toBe('first');
    expect(correlationIdFrom(undefined, fresh)).toBe('generated');
    expect(correlationIdFrom('', fresh)).toBe('generated');
    expect(correlationIdFrom('a b', fresh)).toBe('generated');
    expect(correlationIdFrom('x\r\nSet-Cookie: y', fresh)).toBe('generated');
    expect(correlationIdFrom('x'.repeat(129), fresh)).toBe('generated');
  });
});

describe('createLogObserver', () => {
  const base = { task_id: 't-1', pool_id: 'p1', priority: 'interactive' as const, correlation_id: 'c-1', max_tokens: 16 };

  it('writes one line per lifecycle fact with the task fields and correlation id', () => {
    const { logger, records } = capture();
    const obs = createLogObserver(logger);
    const admitted: AdmittedFact = { ...base, queue_position: 2, predicted_start_ms: 40, policy_label: 'reject' };
    const finished: TerminalFact = { ...base, state: 'failed', error_code: 'WORKER_RESET', replica_id: 'r1', engine: 'mock', tokens_out: 3, queue_wait_ms: 5, decode_time_ms: 50, e2e_ms: 60 };
    obs.admitted(admitted);
    obs.placed({ ...base, replica_id: 'r1', engine: 'mock', queue_wait_ms: 5, decision: 'least-loaded r1', attempt: 1 });
    obs.firstToken({ ...base, replica_id: 'r1', engine: 'mock', ttft_ms: 12 }); // debug: not at info
    obs.finished(finished);
    obs.rejected({ correlation_id: 'c-2', code: 'POOL_UNREADY', pool_id: 'p1', message: 'no ready replica' });
    obs.rejected({ correlation_id: 'c-3', code: 'INVALID_PARAMS', message: 'max_tokens' });
    const lines = records();
    expect(lines.map((l) => [l.event, l.level, l.correlation_id])).toEqual([
      ['task.admitted', 'info', 'c-1'],
      ['task.placed', 'info', 'c-1'],
      ['task.finished', 'warn', 'c-1'],
      ['task.rejected', 'warn', 'c-2'],
      ['task.rejected', 'info', 'c-3'],
    ]);
    expect(lines[0]).toMatchObject({ task_id: 't-1', pool_id: 'p1', queue_position: 2 });
    expect(lines[2]).toMatchObject({ state: 'failed', error_code: 'WORKER_RESET', tokens_out: 3, e2e_ms: 60 });
  });
});
