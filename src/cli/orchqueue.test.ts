// The real `orchqueue` CLI (bin/orchqueue.js, a child process) against the real gateway on an
// ephemeral port: help, streaming, status, cancel, sessions, pools, exit codes per error class,
// Ctrl-C cancelling a streamed task, and serve. The control commands and the retry loop are
// checked against a recording server in control-commands.test.ts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockTokens } from '../adapters/mock/tokens.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../../test/support/gateway.ts';
import { cli, finished, start, type Run } from '../../test/support/cli-child.ts';
import { COMMANDS, runCli } from './main.ts';

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
        // Resets the connection after two tokens: a stream that ends with an error event.
        mockPool({ id: 'faulty', model: 'faulty', replicas: [{ id: 'faulty-0', slots: 1 }] }, { fail_at_token: 2 }),
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

  it('ORCH-1000 prints the help of a command group (session, audit) and exits 2 when its subcommand is missing', async () => {
    const session = await inProcess(['session', '--help']);
    expect(session.code).toBe(0);
    expect(session.stdout).toContain('Usage: orchqueue session get');
    expect(session.stdout).toContain('Usage: orchqueue session delete');
    expect((await inProcess(['audit', '-h'])).stdout).toContain('Usage: orchqueue audit verify');
    expect((await inProcess(['session'])).code).toBe(2);
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
  it('ORCH-1002 are 4 for 404, 3 for 400, 6 for 429, 7 when unreachable or the task fails, and 5 for a budget refusal', async () => {
    const [notFound, invalid, full, unreachable, failed] = await Promise.all([
      cli(['status', '00000000-0000-4000-8000-000000000000'], env),
      cli(['submit', '-p', 'x', '-n', '0'], env),
      cli(['submit', '-m', 'full', '-p', 'x', '-n', '1', '--json'], env),
      cli(['pools'], { ORCHQUEUE_URL: 'http://127.0.0.1:9' }),
      cli(['submit', '--stream', '-m', 'faulty', '-p', 'x', '-n', '5'], env),
    ]);
    expect(failed.code).toBe(7);
    expect(failed.stderr).toContain('error WORKER_RESET');
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

describe('orchqueue serve', () => {
  it('ORCH-1000 serve starts the gateway like node src/main.ts with --config, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orchqueue-serve-'));
    const config = join(dir, 'orchqueue.json');
    writeFileSync(config, JSON.stringify({ pools: [mockPool({ id: 'served', model: 'served' })], audit: { backend: 'off' }, telemetry: { log_level: 'info' } }));
    const child = start(['serve', '--config', config, '--port', '0']);
    const done = finished(child);
    try {
      let log = '';
      child.stdout?.on('data', (c: Buffer) => (log += c.toString('utf8')));
      await waitFor(() => /"address":"http:\/\/127\.0\.0\.1:\d+"/.test(log), 10_000);
      const address = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(log)?.[1] ?? '';
      const pools = await cli(['pools', '--json'], { ORCHQUEUE_URL: address });
      expect(JSON.parse(pools.stdout).pools.map((p: { id: string }) => p.id)).toEqual(['served']);
      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
