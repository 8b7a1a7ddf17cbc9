// The CLI's control commands and its retry loop against a recording HTTP server: the exact
// request each command sends (drain, reload, audit verify), how it reads the answer and which
// exit code follows, and --retry timing driven by scripted 429 answers with Retry-After.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli-child.ts';

describe('orchqueue control commands (against a recording server)', () => {
  let server: Server;
  let url: string;
  const seen: string[] = [];
  const answers: Record<string, [number, unknown]> = {
    'POST /v1/pools/demo/drain {"deadline_ms":1500}': [202, { pool_id: 'demo', draining: true, deadline_at: '2025-01-01T12:00:01.500Z' }],
    'POST /v1/pools/demo/drain {"deadline_ms":30000}': [202, { pool_id: 'demo', draining: true, deadline_at: '2025-01-01T12:00:30.000Z' }],
    'POST /v1/pools/demo/reload ': [200, { id: 'demo', engine: 'mock', model: 'demo', aliases: [], live: true, ready: true, draining: false, slots: { total: 4, busy: 0 }, queue: { depth: 0, interactive: 0, batch: 0, max_queued: 256, policy: 'reject' }, replicas: [] }],
    'POST /v1/config/reload ': [200, { reloaded: true, pools: ['demo'] }],
  };
  let auditAnswer: unknown = { ok: true, rows: 42 };
  let headAnswer: [number, unknown] = [200, { head_seq: 9730, head_hash: 'ab'.repeat(32) }];
  /** Answers to POST /v1/tasks, in order: [status, headers]; the last one repeats. */
  let submitScript: [number, Record<string, string>][] = [];
  const submitTimes: number[] = [];
  const reject = { error: { code: 'ADMISSION_REJECT', message: 'queue of pool demo is full', retriable: true, correlation_id: 'c', pool_id: 'demo', retry_after_ms: 700, policy_label: 'reject' } };
  const accepted = { task_id: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01', queue_position: 0, predicted_start_ms: 0, backoff_ms: 0, streams: { sse: '/s', status: '/t' } };
  const body = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    return text;
  };
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const key = `${req.method} ${req.url} ${await body(req)}`;
      seen.push(key);
      if (req.url === '/v1/tasks') {
        submitTimes.push(Date.now());
        const [status, headers] = submitScript.shift() ?? [429, {}];
        if (submitScript.length === 0) submitScript.push([status, headers]);
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(status === 202 ? accepted : reject));
        return;
      }
      const [status, answer] = req.url === '/v1/audit/verify' ? [200, auditAnswer] : req.url === '/v1/audit/head' ? headAnswer
        : (answers[key] ?? [404, { error: { code: 'NOT_FOUND', message: 'no', retriable: false, correlation_id: 'c' } }]);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('drain sends deadline_ms (default 30000), reload picks the pool or the config route', async () => {
    const runs = await Promise.all([
      cli(['drain', 'demo', '--deadline-ms', '1500'], { ORCHQUEUE_URL: url }),
      cli(['drain', 'demo', '--json'], { ORCHQUEUE_URL: url }),
      cli(['reload', 'demo'], { ORCHQUEUE_URL: url }),
      cli(['reload', '--json'], { ORCHQUEUE_URL: url }),
      cli(['drain', 'demo', '--deadline-ms', 'soon'], { ORCHQUEUE_URL: url }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 2]);
    expect(new Set(seen.filter((k) => !k.startsWith('POST /v1/tasks')))).toEqual(new Set(Object.keys(answers)));
    expect(runs[0]?.stdout).toContain('draining: true');
    expect(JSON.parse(runs[3]?.stdout ?? '')).toEqual({ reloaded: true, pools: ['demo'] });
  });

  it('ORCH-1004 --retry waits for Retry-After before the next attempt and stops at the first success', async () => {
    submitScript = [[429, { 'retry-after': '1', 'x-backoff-ms': '700' }], [202, {}]];
    submitTimes.length = 0;
    const run = await cli(['submit', '-p', 'x', '--retry', '--json'], { ORCHQUEUE_URL: url });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('429 ADMISSION_REJECT'.slice(4));
    expect(run.stderr).toContain('retrying in 1000 ms (attempt 2 of 5)');
    expect(submitTimes).toHaveLength(2);
    expect((submitTimes[1] ?? 0) - (submitTimes[0] ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(JSON.parse(run.stdout)).toEqual(accepted);
  });

  it('ORCH-1004 --retry gives up after --attempts with the backpressure exit code; without --retry it never retries', async () => {
    submitScript = [[429, { 'retry-after': '0', 'x-backoff-ms': '5' }]];
    submitTimes.length = 0;
    const retried = await cli(['submit', '-p', 'x', '--retry', '--attempts', '3'], { ORCHQUEUE_URL: url });
    expect([retried.code, submitTimes.length]).toEqual([6, 3]);
    submitTimes.length = 0;
    const once = await cli(['submit', '-p', 'x'], { ORCHQUEUE_URL: url });
    expect([once.code, submitTimes.length]).toEqual([6, 1]);
  });

  it('ORCH-1002 audit verify exits 0 for an intact chain and 9 naming the first bad row otherwise', async () => {
    const intact = await cli(['audit', 'verify'], { ORCHQUEUE_URL: url });
    expect([intact.code, intact.stdout]).toEqual([0, 'ok: true\nrows: 42\n']);
    auditAnswer = { ok: false, rows: 42, first_bad_seq: 17, reason: 'hash mismatch' };
    const broken = await cli(['audit', 'verify', '--json'], { ORCHQUEUE_URL: url });
    expect(broken.code).toBe(9);
    expect(JSON.parse(broken.stdout)).toEqual(auditAnswer);
    expect(seen).toContain('POST /v1/audit/verify ');
  });

  it('audit verify names each chain of a log with several writers, and the broken one', async () => {
    const headA = 'a1'.repeat(32);
    auditAnswer = {
      ok: false, rows: 25, chain: 'gw-b', first_bad_seq: 14, reason: 'hash does not match the row content',
      chains: [
        { chain: 'gw-a', ok: true, rows: 12, head_seq: 12, head_hash: headA },
        { chain: 'gw-b', ok: false, rows: 13, first_bad_seq: 14, reason: 'hash does not match the row content' },
      ],
    };
    const broken = await cli(['audit', 'verify'], { ORCHQUEUE_URL: url });
    expect(broken.code).toBe(9);
    expect(broken.stdout).toBe([
      'ok: false', 'rows: 25', 'chain: gw-b', 'first_bad_seq: 14', 'reason: hash does not match the row content', '',
      `CHAIN  OK   ROWS  HEAD SEQ  HEAD HASH${' '.repeat(55)}  FIRST BAD SEQ  REASON`,
      `gw-a   yes  12    12        ${headA}`,
      `gw-b   no   13              ${' '.repeat(64)}  14             hash does not match the row content`,
      '',
    ].join('\n'));
    auditAnswer = { ok: true, rows: 25, chains: [{ chain: 'gw-a', ok: true, rows: 12, head_seq: 12, head_hash: headA }, { chain: 'gw-b', ok: true, rows: 13, head_seq: 13, head_hash: 'b2'.repeat(32) }] };
    const intact = await cli(['audit', 'verify'], { ORCHQUEUE_URL: url });
    expect(intact.code).toBe(0);
    expect(intact.stdout.split('\n').slice(0, 3)).toEqual(['ok: true', 'rows: 25', '']);
    expect(intact.stdout).toContain(`gw-b   yes  13    13        ${'b2'.repeat(32)}`);
  });

  it('audit head prints the chain head from GET /v1/audit/head, as text or JSON', async () => {
    const text = await cli(['audit', 'head'], { ORCHQUEUE_URL: url });
    expect([text.code, text.stdout]).toEqual([0, `head_seq: 9730\nhead_hash: ${'ab'.repeat(32)}\n`]);
    const json = await cli(['audit', 'head', '--json'], { ORCHQUEUE_URL: url });
    expect(JSON.parse(json.stdout)).toEqual({ head_seq: 9730, head_hash: 'ab'.repeat(32) });
    expect(seen).toContain('GET /v1/audit/head ');
  });

  it('audit head exits 4 when the gateway has no audit (404)', async () => {
    headAnswer = [404, { error: { code: 'NOT_FOUND', message: 'audit is off (audit.backend: off)', retriable: false, correlation_id: 'c' } }];
    const off = await cli(['audit', 'head'], { ORCHQUEUE_URL: url });
    expect([off.code, off.stdout]).toEqual([4, '']);
  });
});
