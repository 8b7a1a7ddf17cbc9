import { describe, expect, it, vi } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { createLogObserver } from './log-observer.ts';
import { createLogger, REDACTED, type LogLevel } from './logger.ts';
import { lazyChildLoggerFactory } from './request-logger.ts';

function capture(level: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => void lines.push(s) } });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('lazyChildLoggerFactory', () => {
  it('builds no child logger for a request that logs nothing', () => {
    const { logger } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const log = lazyChildLoggerFactory(logger as FastifyBaseLogger, { correlation_id: 'c-1' }, {});
    expect(log.level).toBe('info');
    log.debug('below the level');
    expect(child).toHaveBeenCalledTimes(1);
    child.mockClear();
    lazyChildLoggerFactory(logger as FastifyBaseLogger, { correlation_id: 'c-2' }, {});
    expect(child).not.toHaveBeenCalled();
  });

  it('writes the line the eager child would have written, bound to the correlation id and redacted', () => {
    const { logger, records } = capture('info');
    const lazy = lazyChildLoggerFactory(logger as FastifyBaseLogger, { correlation_id: 'c-1' }, {});
    const eager = logger.child({ correlation_id: 'c-1' });
    lazy.warn({ api_key: 'sk-secret', n: 1 }, 'failed %s', 'twice');
    eager.warn({ api_key: 'sk-secret', n: 1 }, 'failed %s', 'twice');
    lazy.info('plain message');
    const [fromLazy, fromEager, plain] = records();
    const { time: _t1, ...a } = fromLazy ?? {};
    const { time: _t2, ...b } = fromEager ?? {};
    expect(a).toEqual(b);
    expect(a).toMatchObject({ correlation_id: 'c-1', api_key: REDACTED, msg: 'failed twice', level: 'warn' });
    expect(plain).toMatchObject({ correlation_id: 'c-1', msg: 'plain message' });
  });

  it('hands out grandchildren that keep both bindings', () => {
    const { logger, records } = capture('info');
    lazyChildLoggerFactory(logger as FastifyBaseLogger, { correlation_id: 'c-1' }, {}).child({ task_id: 't-1' }).info('x');
    expect(records()[0]).toMatchObject({ correlation_id: 'c-1', task_id: 't-1' });
  });
});

describe('the refusal log line', () => {
  const refusal = { correlation_id: 'c-9', code: 'ADMISSION_REJECT' as const, message: 'pool p queue is full (8 waiting)', pool_id: 'p' };

  it('is written at info for a refusal the client caused', () => {
    const { logger, records } = capture('info');
    createLogObserver(logger).rejected(refusal);
    expect(records()).toEqual([expect.objectContaining({ event: 'task.rejected', level: 'info', correlation_id: 'c-9', code: 'ADMISSION_REJECT' })]);
  });

  it('still has credentials scrubbed by the logger, without pino path redaction', () => {
    const { logger, lines } = capture('info');
    const leaky = { ...refusal, message: 'replica http://admin:sk-live-secret@10.0.0.5:8000/v1 refused', api_key: 'sk-live-secret' };
    createLogObserver(logger).rejected(leaky);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('sk-live-secret');
    expect(lines[0]).toContain(REDACTED);
  });

  it('is not built at all below its level, while a 5xx refusal still is at warn', () => {
    const { logger, records } = capture('warn');
    const observer = createLogObserver(logger);
    observer.rejected(refusal);
    observer.rejected({ correlation_id: 'c-10', code: 'AUDIT_UNAVAILABLE', message: 'the audit buffer is full' });
    expect(records()).toEqual([expect.objectContaining({ event: 'task.rejected', level: 'warn', correlation_id: 'c-10' })]);
  });
});
