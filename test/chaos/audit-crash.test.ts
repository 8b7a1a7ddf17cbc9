// Crash safety of the audit commit point (ORCH-0709): a gateway process on an embedded (PGlite)
// audit store is killed with SIGKILL in the middle of a load, restarted on the same data
// directory, and then the chain verifies and every task that got a 202 has its admission row.
//
// The child is the real gateway (compose from src/main.ts) with the audit wiring main.ts is to
// get: createAudit(config.audit) → compose({ recorder: writer, observers: [writer] }).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteWorkerStore } from '../../src/audit/pglite-store.ts';
import { DEFAULT_CONFIG_INPUT } from '../../src/config/load.ts';

const ROOT = new URL('../../', import.meta.url);
const NODE = process.execPath;

// Plain JS for `node -e` (ESM detected from the imports); the TypeScript sources it imports run
// with type stripping.
const CHILD = `
  import pino from 'pino';
  import { validateConfig } from './src/config/load.ts';
  import { createAudit } from './src/audit/create-audit.ts';
  import { compose } from './src/main.ts';
  const checked = validateConfig(JSON.parse(process.env.CHAOS_CONFIG));
  if (!checked.ok) throw new Error(checked.problems.join('; '));
  const logger = pino({ level: 'silent' });
  const audit = await createAudit(checked.config.audit, { logger, env: {} });
  const gateway = await compose(checked.config, { logger, recorder: audit.writer, observers: [audit.writer] });
  const address = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
  process.on('SIGTERM', async () => { await gateway.close(); await audit.close(); process.exit(0); });
  process.stdout.write(JSON.stringify({ address }) + '\\n');
`;

interface Child {
  process: ChildProcess;
  address: string;
}

function startGateway(dataDir: string): Promise<Child> {
  const config = {
    ...DEFAULT_CONFIG_INPUT,
    pools: [{ id: 'demo', engine: 'mock', model: 'demo', queue: { max_queued: 10_000 }, replicas: [{ id: 'mock-0', slots: 8, mock: { tokens_per_s: 5_000, first_token_delay_ms: 1 } }] }],
    audit: { backend: 'pglite', data_dir: dataDir, fail_closed: true },
    telemetry: { log_level: 'silent', metrics: false },
  };
  const child = spawn(NODE, ['-e', CHILD], {
    cwd: ROOT,
    env: { ...process.env, CHAOS_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`gateway exited (${code ?? signal}) before listening:\n${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const { address } = JSON.parse(line) as { address: string };
      resolve({ process: child, address });
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
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

async function accepted(load: { accepted: Set<string> }, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (load.accepted.size < count) {
    if (Date.now() > deadline) throw new Error(`only ${load.accepted.size} of ${count} tasks were accepted in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('audit crash safety', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'orchqueue-audit-crash-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps an admission row for every 202 across a SIGKILL mid-load, and the chain verifies after restart', async () => {
    const first = await startGateway(dataDir);
    const beforeKill = load(first.address, 8);
    await accepted(beforeKill, 150);
    first.process.kill('SIGKILL');
    await exited(first.process);
    await beforeKill.stop();

    const second = await startGateway(dataDir);
    const afterRestart = load(second.address, 2);
    await accepted(afterRestart, 20);
    await afterRestart.stop();
    second.process.kill('SIGTERM');
    await exited(second.process);

    const store = await PgliteWorkerStore.open({ dataDir });
    try {
      const verified = await store.verify();
      expect(verified).toMatchObject({ ok: true });
      const admitted = new Set<string>();
      let after = 0;
      for (;;) {
        const page = await store.query({ kind: 'admission', after_seq: after, limit: 1_000 });
        for (const row of page) if (row.task_id !== null) admitted.add(row.task_id);
        if (page.length < 1_000) break;
        after = page.at(-1)!.seq;
      }
      const missing = [...beforeKill.accepted, ...afterRestart.accepted].filter((id) => !admitted.has(id));
      expect(missing).toEqual([]);
    } finally {
      await store.close();
    }
  }, 120_000);
});
