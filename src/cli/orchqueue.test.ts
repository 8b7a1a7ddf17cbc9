// The real `orchqueue` CLI (bin/orchqueue.js, a child process) against the real gateway on an
// ephemeral port: streaming, status, cancel, sessions, pools, exit codes per error class,
// --retry after Retry-After, Ctrl-C cancelling a streamed task, and serve. Control routes
// another issue is still building (drain, reload, audit verify) are checked against a
// recording HTTP server instead, for the request the CLI sends and how it reads the answer.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockTokens } from '../adapters/mock/tokens.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../../test/support/gateway.ts';
import { COMMANDS, runCli } from './main.ts';

const BIN = fileURLToPath(new URL('../../bin/orchqueue.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string> = {}, input?: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ORCHQUEUE_URL: '', ORCHQUEUE_TOKEN: '', ...env }, stdio: 'pipe' });
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();
  return child;
}

function finished(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const cli = (args: string[], env: Record<string, string> = {}, input?: string) => finished(start(args, env, input));

/** The same CLI in this process, for help and usage (no gateway involved, no process start-up cost). */
async function inProcess(args: string[]): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = (s: PassThrough) => { s.end(); return s.read()?.toString('utf8') ?? ''; };
  const code = await runCli(args, { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let gw: TestGateway;
let env: Record<string, string>;
beforeAll(async () => {
  gw = await startGateway(
    testConfig({
      pools: [
        mockPool({ replicas: [{ id: 'mock-0', slots: 4 }] }),
        // Slow, for watching a stream arrive and interrupting it.
        mockPool({ id: 'slow', model: 'slow', replicas: [{ id: 'slow-0', slots: 2 }] }, { tokens_per_s: 20 }),
        // One slot, one queue place: two long tasks fill it for the whole file.
        mockPool({ id: 'full', model: 'full', replicas: [{ id: 'full-0', slots: 1 }], queue: { max_queued: 1 } }, { tokens_per_s: 5 }),
      ],
    }),
  );
  env = { ORCHQUEUE_URL: gw.url };
  for (let i = 0; i < 2; i++) expect((await gw.post('/v1/tasks', { model: 'full', prompt: 'fill', max_tokens: 500 })).status).toBe(202);
});
afterAll(async () => gw?.close());

describe('orchqueue help', () => {
  it('ORCH-1000 ORCH-1001 ORCH-1002 documents every command, the global options, the environment and every exit code', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    for (const command of COMMANDS) expect(run.stdout).toContain(`  ${command.name} `);
    for (const text of ['--url', '--token', '--json', 'ORCHQUEUE_URL', 'ORCHQUEUE_TOKEN']) expect(run.stdout).toContain(text);
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130]) expect(run.stdout).toMatch(new RegExp(`^  ${code} +\\S`, 'm'));
  });

  it("ORCH-1000 prints each command's help with its options and exits 0", async () => {
    for (const command of COMMANDS) {
      const run = await inProcess([...command.name.split(' '), '--help']);
      expect(run.code, command.name).toBe(0);
      expect(run.stdout).toContain(`Usage: orchqueue ${command.name}`);
      for (const option of Object.keys(command.options)) expect(run.stdout, `${command.name} --${option}`).toContain(`--${option}`);
    }
  });

  it('ORCH-1002 exits 2 for an unknown command, an unknown option, a missing argument or a bad number', async () => {
    const runs = await Promise.all([inProcess(['launch']), inProcess(['status']), inProcess(['pools', '--colour']), inProcess(['submit', '-p', 'x', '-n', 'ten'])]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    expect(runs[1]?.stderr).toContain('missing <task_id>');
    expect(runs[3]?.stderr).toContain('--max-tokens must be an integer');
  });
});

describe('orchqueue submit', () => {
  it('ORCH-1003 --stream prints the tokens as they arrive and exits 0 after the end event', async () => {
    const child = start(['submit', '--stream', '-m', 'slow', '-p', 'hello', '-n', '12', '--seed', '7'], env);
    const done = finished(child);
    let firstOutputWhileRunning: string | undefined;
    child.stdout?.once('data', async () => {
      const pool = (await gw.get('/v1/pools/slow')).body as { slots: { busy: number } };
      firstOutputWhileRunning = pool.slots.busy > 0 ? 'running' : 'idle';
    });
    const run = await done;
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${mockTokens('hello', 7, 12).join('')}\n`);
    expect(firstOutputWhileRunning).toBe('running');
    expect(run.stderr).toContain('12 tokens, finish_reason length');
  });

  it('ORCH-1001 --stream --json writes one event per line; status and cancel read the same task', async () => {
    const run = await cli(['submit', '--stream', '--json', '-n', '3', '--seed', '1'], env, 'from stdin\n');
    expect(run.code).toBe(0);
    const events = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; event: string; data: { t?: string } });
    expect(events.map((e) => e.event)).toEqual(['started', 'token', 'token', 'token', 'metrics', 'end']);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.filter((e) => e.event === 'token').map((e) => e.data.t)).toEqual(mockTokens('from stdin', 1, 3));
    const accepted = await cli(['submit', '--json', '-m', 'slow', '-p', 'x', '-n', '400'], env);
    const { task_id } = JSON.parse(accepted.stdout) as { task_id: string };
    const status = await cli(['status', task_id, '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ task_id, model: 'slow', pool_id: 'slow' });
    const cancel = await cli(['cancel', task_id], env);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain('canceled: true');
    expect((await gw.get(`/v1/tasks/${task_id}`)).body).toMatchObject({ state: 'canceled' });
  });

  it('ORCH-1003 Ctrl-C during --stream cancels the task before exiting with 130', async () => {
    const taskId = '5f0c2d8e-7a41-4c55-9a0b-1e2f3a4b5c6d';
    const child = start(['submit', '--stream', '-m', 'slow', '-p', 'long', '-n', '400', '--task-id', taskId], env);
    const done = finished(child);
    await new Promise((resolve) => child.stdout?.once('data', resolve));
    expect((await gw.get(`/v1/tasks/${taskId}`)).body).toMatchObject({ state: 'running' });
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain(`task ${taskId} canceled`);
    const status = (await gw.get(`/v1/tasks/${taskId}`)).body as { state: string; tokens_out: number };
    expect(status.state).toBe('canceled');
    expect(status.tokens_out).toBeLessThan(400);
  });

});

describe('orchqueue exit codes', () => {
  it('ORCH-1002 are 4 for 404, 3 for 400, 6 for 429, 7 when unreachable and 5 for a budget refusal', async () => {
    const [notFound, invalid, full, unreachable] = await Promise.all([
      cli(['status', '00000000-0000-4000-8000-000000000000'], env),
      cli(['submit', '-p', 'x', '-n', '0'], env),
      cli(['submit', '-m', 'full', '-p', 'x', '-n', '1', '--json'], env),
      cli(['pools'], { ORCHQUEUE_URL: 'http://127.0.0.1:9' }),
    ]);
    expect(notFound.code).toBe(4);
    expect(notFound.stderr).toContain('404 NOT_FOUND');
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toContain('INVALID_PARAMS');
    expect(full.code).toBe(6);
    expect(JSON.parse(full.stdout)).toMatchObject({ status: 429, error: { code: 'ADMISSION_REJECT', policy_label: 'reject' } });
    expect(unreachable.code).toBe(7);
    expect(unreachable.stderr).toContain('cannot reach the gateway');
    await gw.post('/v1/sessions', { session_id: 'capped', max_turns: 1 });
    await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 1, session_id: 'capped' });
    const budget = await cli(['submit', '-p', 'x', '-n', '1', '--session', 'capped'], env);
    expect(budget.code).toBe(5);
    expect(budget.stderr).toContain('BUDGET_EXCEEDED');
  });

  it('ORCH-1001 ORCH-1002 is 8 for a missing or data-plane token on a gateway with tokens, and 0 with the right one', async () => {
    const secured = await startGateway(testConfig({ auth: { data_tokens: ['data-token-1'], control_tokens: ['control-token-1'] } }));
    try {
      const url = { ORCHQUEUE_URL: secured.url };
      const [none, wrongScope, env0, flag] = await Promise.all([
        cli(['pools'], url),
        cli(['pools', '--token', 'data-token-1'], url),
        cli(['pools'], { ...url, ORCHQUEUE_TOKEN: 'control-token-1' }),
        cli(['pools', '--json', '--token', 'control-token-1'], { ...url, ORCHQUEUE_TOKEN: 'wrong-token' }),
      ]);
      expect([none.code, wrongScope.code, env0.code, flag.code]).toEqual([8, 8, 0, 0]);
      expect(wrongScope.stderr).toContain('403 FORBIDDEN');
      expect(JSON.parse(flag.stdout).pools[0]).toMatchObject({ id: 'demo', engine: 'mock' });
    } finally {
      await secured.close();
    }
  });
});

describe('orchqueue sessions and pools', () => {
  it('reads and deletes a session, then reports it unknown', async () => {
    await gw.post('/v1/sessions', { session_id: 'cli-1', max_turns: 3 });
    const got = await cli(['session', 'get', 'cli-1', '--json'], env);
    expect(JSON.parse(got.stdout)).toMatchObject({ session_id: 'cli-1', turns: 0, max_turns: 3, kv_warmth: 'cold' });
    const deleted = await cli(['session', 'delete', 'cli-1'], env);
    expect([deleted.code, deleted.stdout]).toEqual([0, 'session cli-1 deleted\n']);
    expect((await cli(['session', 'get', 'cli-1'], env)).code).toBe(4);
  });

  it('lists pools as a table and shows one pool with its replicas', async () => {
    const list = await cli(['pools'], env);
    expect(list.stdout.split('\n')[0]).toMatch(/^POOL +ENGINE +MODEL +READY/);
    expect(list.stdout).toMatch(/^full +mock +full +yes +no +1\/1 +1\/1 +reject/m);
    const one = await cli(['pools', 'slow'], env);
    expect(one.stdout).toContain('id: slow');
    expect(one.stdout).toMatch(/^slow-0 +ready +mock-1 +8192/m);
    expect((await cli(['pools', 'nope'], env)).code).toBe(4);
  });
});

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
      const [status, answer] = req.url === '/v1/audit/verify' ? [200, auditAnswer] : (answers[key] ?? [404, { error: { code: 'NOT_FOUND', message: 'no', retriable: false, correlation_id: 'c' } }]);
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
});

describe('orchqueue serve', () => {
  it('ORCH-1000 serve starts the gateway like node src/main.ts and stops on SIGTERM', async () => {
    const child = start(['serve', '--port', '0'], { LOG_LEVEL: 'info' });
    const done = finished(child);
    let log = '';
    child.stdout?.on('data', (c: Buffer) => (log += c.toString('utf8')));
    await waitFor(() => /"address":"http:\/\/127\.0\.0\.1:\d+"/.test(log), 10_000);
    const address = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(log)?.[1] ?? '';
    const pools = await cli(['pools', '--json'], { ORCHQUEUE_URL: address });
    expect(JSON.parse(pools.stdout).pools.map((p: { id: string }) => p.id)).toEqual(['demo']);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});
