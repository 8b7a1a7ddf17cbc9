// Issue 10 findings 4 and 10 on the real process (`node src/main.ts`): an open control plane
// on a public address is refused unless explicitly allowed (then logged as a warning), and an
// unreachable audit database is one clear line with the credentials redacted, not a stack trace.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'orchqueue-startup-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, over: Record<string, unknown>): string {
  const path = join(dir, name);
  const config = { pools: [{ id: 'demo', engine: 'mock', model: 'demo', replicas: [{ id: 'm0' }] }], audit: { backend: 'off' }, telemetry: { log_level: 'info' }, ...over };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the gateway until it exits or prints `until` on stdout (then it is stopped). */
function run(args: string[], env: Record<string, string>, until?: RegExp): Promise<Run> {
  const child = spawn(process.execPath, ['src/main.ts', ...args], { cwd: process.cwd(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (until?.test(stdout)) child.kill('SIGTERM');
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('startup checks', () => {
  it('refuses to listen on 0.0.0.0 without control tokens, also when only data tokens are set', async () => {
    const path = configFile('open.json', { server: { host: '0.0.0.0', port: 0 }, auth: { data_tokens: ['data-token-1'] } });
    const result = await run(['--config', path], {});
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 with an open control plane.*--insecure/);
  }, 30_000);

  it('starts on 0.0.0.0 with --insecure and logs a warning', async () => {
    const path = configFile('insecure.json', { server: { host: '0.0.0.0', port: 0 } });
    const result = await run(['--config', path, '--insecure'], {}, /orchqueue listening/);
    const warning = result.stdout.split('\n').find((line) => line.includes('insecure exposure: the control plane is open'));
    expect(warning, result.stdout + result.stderr).toBeDefined();
    expect(JSON.parse(warning as string)).toMatchObject({ level: 'warn', host: '0.0.0.0' });
  }, 30_000);

  it('reports an unreachable DATABASE_URL in one line without the password', async () => {
    const path = configFile('db.json', { audit: { backend: 'postgres' } });
    const result = await run(['--config', path], { DATABASE_URL: 'postgres://orch:hunter2@127.0.0.1:1/audit' });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^orchqueue: cannot start: .*ECONNREFUSED/);
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('writes the compile cache once started, so a gateway that is killed restarts warm', async () => {
    const cache = join(dir, 'compile-cache');
    const path = configFile('cache.json', { server: { host: '127.0.0.1', port: 0 } });
    const child = spawn(process.execPath, ['src/main.ts', '--config', path], { cwd: process.cwd(), env: { ...process.env, NODE_COMPILE_CACHE: cache }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (/orchqueue listening/.test(stdout)) resolve();
      });
    });
    // Counted while it still runs: Node itself writes the cache only on a normal exit.
    const files = readdirSync(cache, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    child.kill('SIGKILL');
    expect(files.length).toBeGreaterThan(100);
  }, 30_000);
});
