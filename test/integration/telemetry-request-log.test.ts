// A request's log lines carry its correlation id: the id the server answers with in
// X-Correlation-Id, whether the client chose it or the gateway generated it (ORCH-0008/0802).
// Goes through the real server wiring, since the binding is Fastify's, configured in server.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose, type Gateway } from '../../src/main.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { testConfig } from '../support/gateway.ts';

const lines: string[] = [];
let gateway: Gateway;
let url: string;

beforeAll(async () => {
  const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
  gateway = await compose(testConfig(), { logger });
  gateway.app.get('/log-probe', async (req) => {
    req.log.info({ step: 'probe' }, 'probe');
    return { ok: true };
  });
  url = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => gateway.close());

function probeLines(): Record<string, unknown>[] {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.step === 'probe');
}

describe('request log lines', () => {
  // ORCH-0802 ORCH-0008
  it('carry the correlation id the client sent', async () => {
    lines.length = 0;
    const res = await fetch(`${url}/log-probe`, { headers: { 'x-correlation-id': 'corr-42' } });
    expect(res.headers.get('x-correlation-id')).toBe('corr-42');
    expect(probeLines().map((r) => r.correlation_id)).toEqual(['corr-42']);
  });

  // ORCH-0802 ORCH-0008
  it('carry the generated id when the client sent an unusable one', async () => {
    lines.length = 0;
    const res = await fetch(`${url}/log-probe`, { headers: { 'x-correlation-id': 'has space' } });
    const answered = res.headers.get('x-correlation-id');
    expect(answered).not.toBe('has space');
    expect(answered).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(probeLines().map((r) => r.correlation_id)).toEqual([answered]);
  });
});
