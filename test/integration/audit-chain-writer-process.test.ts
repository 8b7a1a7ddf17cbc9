// Two gateway processes (`node src/main.ts`) with state.backend memory on one server Postgres:
// they would write the same audit chain, so the second is refused at start with one line naming
// the chain and what to do, and the first keeps running (issue 15, item 2).

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, startGatewayProcess } from '../support/gateway-process.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function runUntilExit(configPath: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['src/main.ts', '--config', configPath], { cwd: process.cwd(), env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('one writer per audit chain, across processes', () => {
  // Two process starts on a busy two-core runner.
  it('refuses a second memory-backend gateway on the same database with one line, and the first still answers', { timeout: 60_000 }, async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dir = await mkdtemp(join(tmpdir(), 'orchqueue-chain-lock-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify({
      server: { host: '127.0.0.1', port: 0 },
      pools: [{ id: 'demo', engine: 'mock', model: 'demo', replicas: [{ id: 'mock-0' }] }],
      audit: { backend: 'postgres' },
      telemetry: { log_level: 'info', metrics: false },
    }));
    const env = { DATABASE_URL: databaseUrl(database.name) };
    const first = await startGatewayProcess(configPath, env);
    cleanups.push(async () => {
      first.process.kill('SIGTERM');
      await exited(first.process);
    });

    const second = await runUntilExit(configPath, env);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines, second.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^orchqueue: cannot start: audit chain "main" is already being written by another gateway process on this database .*state\.replica_id/);

    const verify = await fetch(`${first.address}/v1/audit/verify`, { method: 'POST' });
    expect(verify.status).toBe(200);
    expect(await verify.json()).toMatchObject({ ok: true, chains: [] });
  });
});
