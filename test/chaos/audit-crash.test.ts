// Crash safety of the audit commit point (ORCH-0709): the real gateway (`node src/main.ts`) on
// an embedded (PGlite) audit store is killed with SIGKILL in the middle of a load, restarted on
// the same data directory, and then its own audit API shows that the chain verifies and that
// every task that got a 202 has its admission row. Issue 10, finding 6: tasks in flight at the
// kill each get exactly one `abandoned` terminal row on restart, and their status is answered
// from the audit instead of 404.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_INPUT } from '../../src/config/load.ts';
import { exited, startGatewayProcess as startGateway } from '../support/gateway-process.ts';

async function writeConfig(dir: string, tokensPerS = 5_000): Promise<string> {
  const config = {
    ...DEFAULT_CONFIG_INPUT,
    server: { host: '127.0.0.1', port: 0 },
    pools: [{ id: 'demo', engine: 'mock', model: 'demo', queue: { max_queued: 10_000 }, replicas: [{ id: 'mock-0', slots: 8, mock: { tokens_per_s: tokensPerS, first_token_delay_ms: 1 } }] }],
    audit: { backend: 'pglite', data_dir: join(dir, 'audit'), fail_closed: true },
    telemetry: { log_level: 'info', metrics: false },
  };
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(config));
  return path;
}

/** Posts tasks from `workers` concurrent loops until `stop()`; returns the ids that got a 202. */
function load(address: string, workers: number): { accepted: Set<string>; stop(): Promise<void> } {
  const accepted = new Set<string>();
  let running = true;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      const taskId = crypto.randomUUID();
      n += 1;
      try {
        const res = await request(`${address}/v1/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task_id: taskId, model: 'demo', prompt: `crash test ${n}`, max_tokens: 4 }),
        });
        await res.body.text();
        if (res.statusCode === 202) accepted.add(taskId);
      } catch {
        // The connection died with the process: this task never got an answer.
        return;
      }
    }
  };
  const loops = Array.from({ length: workers }, loop);
  return { accepted, stop: async () => { running = false; await Promise.all(loops); } };
}

async function get(address: string, path: string): Promise<unknown> {
  const res = await request(`${address}${path}`);
  return res.body.json();
}

async function status(address: string, path: string): Promise<{ code: number; body: unknown }> {
  const res = await request(`${address}${path}`);
  return { code: res.statusCode, body: await res.body.json() };
}

async function post(address: string, path: string): Promise<unknown> {
  const res = await request(`${address}${path}`, { method: 'POST' });
  return res.body.json();
}

async function accepted(load: { accepted: Set<string> }, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (load.accepted.size < count) {
    if (Date.now() > deadline) throw new Error(`only ${load.accepted.size} of ${count} tasks were accepted in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('audit crash safety', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchqueue-audit-crash-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps an admission row for every 202 across a SIGKILL mid-load, and the chain verifies after restart', async () => {
    const configPath = await writeConfig(dir);
    const first = await startGateway(configPath);
    const beforeKill = load(first.address, 8);
    await accepted(beforeKill, 150);
    first.process.kill('SIGKILL');
    await exited(first.process);
    await beforeKill.stop();

    const second = await startGateway(configPath);
    try {
      const afterRestart = load(second.address, 2);
      await accepted(afterRestart, 20);
      await afterRestart.stop();

      const verified = await post(second.address, '/v1/audit/verify');
      expect(verified).toMatchObject({ ok: true });
      const admitted = new Set<string>();
      let after = 0;
      for (;;) {
        const page = (await get(second.address, `/v1/audit?kind=admission&limit=1000&after_seq=${after}`)) as { rows: { task_id: string }[]; next_after_seq?: number };
        for (const row of page.rows) admitted.add(row.task_id);
        if (page.next_after_seq === undefined) break;
        after = page.next_after_seq;
      }
      const missing = [...beforeKill.accepted, ...afterRestart.accepted].filter((id) => !admitted.has(id));
      expect(missing).toEqual([]);
    } finally {
      second.process.kill('SIGTERM');
      await exited(second.process);
    }
  }, 120_000);

  it('closes every task in flight at a SIGKILL with one abandoned row on restart, and answers its status from the audit', async () => {
    const crashDir = await mkdtemp(join(tmpdir(), 'orchqueue-audit-abandon-'));
    try {
      // One token a second and 200 to write: every task is still queued or running at the kill.
      const configPath = await writeConfig(crashDir, 1);
      const first = await startGateway(configPath);
      const inFlight: string[] = [];
      for (let i = 0; i < 12; i++) {
        const taskId = crypto.randomUUID();
        const res = await request(`${first.address}/v1/tasks`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task_id: taskId, model: 'demo', prompt: `abandon ${i}`, max_tokens: 200 }),
        });
        await res.body.text();
        expect(res.statusCode).toBe(202);
        inFlight.push(taskId);
      }
      expect(await status(first.address, `/v1/tasks/${inFlight[0]}`)).toMatchObject({ code: 200, body: { state: 'running' } });
      first.process.kill('SIGKILL');
      await exited(first.process);

      const second = await startGateway(configPath);
      try {
        for (const taskId of inFlight) {
          const page = (await get(second.address, `/v1/audit?task_id=${taskId}&kind=terminal`)) as { rows: { actor: string; data: Record<string, unknown> }[] };
          expect(page.rows, taskId).toHaveLength(1);
          expect(page.rows[0]).toMatchObject({ actor: 'system:restart', data: { state: 'abandoned', cause: 'gateway_restart' } });
          const answer = await status(second.address, `/v1/tasks/${taskId}`);
          expect(answer, taskId).toMatchObject({ code: 200, body: { task_id: taskId, state: 'abandoned', model: 'demo', pool_id: 'demo', last_event_id: 0 } });
          expect(await status(second.address, `/v1/tasks/${taskId}/stream`)).toMatchObject({ code: 404, body: { error: { code: 'NOT_FOUND' } } });
        }
        const running = (await get(second.address, `/v1/audit?task_id=${inFlight[0]}&kind=terminal`)) as { rows: { data: Record<string, unknown> }[] };
        expect(running.rows[0]?.data).toMatchObject({ last_known_state: 'running', replica_id: 'mock-0', engine: 'mock' });
        expect(await status(second.address, `/v1/tasks/${crypto.randomUUID()}`)).toMatchObject({ code: 404 });
        expect(await post(second.address, '/v1/audit/verify')).toMatchObject({ ok: true });
      } finally {
        second.process.kill('SIGTERM');
        await exited(second.process);
      }
      // A clean stop and start finds nothing left to close: still exactly one terminal row each.
      const third = await startGateway(configPath);
      try {
        const terminals = (await get(third.address, '/v1/audit?kind=terminal&limit=1000')) as { rows: { task_id: string }[] };
        expect(terminals.rows.filter((row) => inFlight.includes(row.task_id))).toHaveLength(inFlight.length);
      } finally {
        third.process.kill('SIGTERM');
        await exited(third.process);
      }
    } finally {
      await rm(crashDir, { recursive: true, force: true });
    }
  }, 240_000);
});
