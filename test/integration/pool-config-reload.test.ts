// Configuration reload without a restart: POST /v1/config/reload re-reads the file the gateway
// started from and swaps pools (added, changed, removed); a bad file is refused with every
// problem listed and the running configuration stays; SIGHUP does the same to a real process.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.ts';
import type { ControlFact } from '../../src/core/observer.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { waitFor } from './engines-support.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'orchqueue-reload-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let gw: TestGateway | undefined;
let controls: ControlFact[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  controls = [];
});

const mock = (id: string, over: Record<string, unknown> = {}, replicas = 1) => ({
  id,
  engine: 'mock',
  model: id,
  replicas: Array.from({ length: replicas }, (_, i) => ({ id: `${id}-${i}`, slots: 1, mock: { tokens_per_s: 50, first_token_delay_ms: 1 } })),
  ...over,
});

const fileConfig = (pools: unknown[], extra: Record<string, unknown> = {}) => ({
  server: { host: '127.0.0.1', port: 0 },
  audit: { backend: 'off' },
  telemetry: { log_level: 'silent' },
  pools,
  ...extra,
});

function writeConfig(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

async function gatewayFromFile(path: string): Promise<TestGateway> {
  const loaded = await loadConfig(['--config', path], {});
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  gw = await startGateway(loaded.config, {
    loadConfig: () => loadConfig(['--config', path], {}),
    observers: [{ control: (f) => void controls.push(f) }],
  });
  return gw;
}

const poolIds = async (g: TestGateway) => ((await g.get('/v1/pools')).body as { pools: Array<{ id: string }> }).pools.map((p) => p.id);

describe('POST /v1/config/reload', () => {
  // ORCH-0509
  it('adds, rebuilds and removes pools: queued work of a removed pool ends DRAINING, running work finishes', async () => {
    const path = writeConfig('swap.json', fileConfig([mock('a'), mock('b')]));
    const g = await gatewayFromFile(path);
    const submit = async (model: string, max_tokens = 10) => ((await g.post('/v1/tasks', { model, prompt: 'hi', max_tokens })).body as { task_id: string }).task_id;
    const running = await submit('a');
    const queued = await submit('a');
    const queuedOnB = await submit('b', 5);
    writeConfig('swap.json', fileConfig([mock('b', { aliases: ['bee'] }, 2), mock('c')], { server: { host: '127.0.0.1', port: 0, retention_ms: 1234 } }));
    const res = await g.post('/v1/config/reload', undefined);
    expect(res.status, res.text).toBe(200);
    expectResponseMatches('reloadConfig', 200, res.body, { headers: res.headers });
    expect(res.body).toEqual({ reloaded: true, pools: ['b', 'c'] });
    const [r, q, qb] = await Promise.all([running, queued, queuedOnB].map((id) => openStream(`${g.url}/v1/tasks/${id}/stream`)));
    expect(r?.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 10 } });
    expect(terminal(q?.events ?? [])).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'DRAINING', retriable: true }) })]);
    // A changed pool keeps its queue: the task queued on b runs on b's new replicas.
    expect(qb?.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 5 } });
    expect(await poolIds(g)).toEqual(['b', 'c']);
    expect(((await g.get('/v1/pools/b')).body as { replicas: unknown[] }).replicas).toHaveLength(2);
    expect((await g.post('/v1/tasks', { model: 'a', prompt: 'hi', max_tokens: 1 })).status).toBe(400);
    expect((await g.post('/v1/tasks', { model: 'bee', prompt: 'hi', max_tokens: 1 })).status).toBe(202);
    expect(g.config.server.retention_ms).toBe(1234);
    expect(controls).toEqual([
      expect.objectContaining({ action: 'config_reload', actor: 'anonymous', outcome: 'done', detail: expect.objectContaining({ added: ['c'], removed: ['a'], changed: ['b'] }) }),
    ]);
  });

  // ORCH-0509
  it('refuses an invalid file with 400 INVALID_PARAMS listing every problem, and keeps the running configuration', async () => {
    const path = writeConfig('bad.json', fileConfig([mock('a')]));
    const g = await gatewayFromFile(path);
    writeConfig('bad.json', fileConfig([{ ...mock('a'), engine: 'bogus' }, { id: 'a', engine: 'mock', model: 'x', replicas: [] }]));
    const res = await g.post('/v1/config/reload', undefined);
    expect(res.status).toBe(400);
    expectResponseMatches('reloadConfig', 400, res.body, { headers: res.headers });
    const error = (res.body as { error: { code: string; message: string; field: string } }).error;
    expect(error.code).toBe('INVALID_PARAMS');
    expect(error.field).toBe('pools.0.engine');
    expect(error.message).toMatch(/running one stays in force.*\/pools\/0\/engine.*\/pools\/1\/replicas/);
    expect(await poolIds(g)).toEqual(['a']);
    expect((await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: { model: 'a', prompt: 'hi', max_tokens: 2 } })).events.at(-1)?.event).toBe('end');
    expect(controls).toEqual([expect.objectContaining({ action: 'config_reload', outcome: 'refused', detail: expect.objectContaining({ code: 'INVALID_PARAMS' }) })]);
  });

  it('refuses replica options the engine adapter rejects and a file that cannot be parsed', async () => {
    const path = writeConfig('opts.json', fileConfig([mock('a')]));
    const g = await gatewayFromFile(path);
    const llama = { id: 'l', engine: 'llamacpp', model: 'l', replicas: [{ id: 'l-0', url: 'http://127.0.0.1:9', options: { no_such_option: true } }] };
    writeConfig('opts.json', fileConfig([mock('a'), llama]));
    const res = await g.post('/v1/config/reload', undefined);
    expect(res.status).toBe(400);
    expect((res.body as { error: { field: string; message: string } }).error).toMatchObject({ field: 'pools.l.replicas.l-0.options', message: expect.stringMatching(/invalid llamacpp replica options/) });
    writeFileSync(path, '{ not json');
    const unparsable = await g.post('/v1/config/reload', undefined);
    expect(unparsable.status).toBe(400);
    expect(await poolIds(g)).toEqual(['a']);
  });
});

describe('SIGHUP', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    child = undefined;
  });

  // ORCH-0509
  it('re-reads the configuration file of a running process and swaps its pools', async () => {
    const path = writeConfig('hup.json', fileConfig([mock('a')], { telemetry: { log_level: 'info' } }));
    child = spawn(process.execPath, ['src/main.ts', '--config', path], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await listeningAddress(child);
    const pools = async () => ((await (await request(`${url}/v1/pools`)).body.json()) as { pools: Array<{ id: string }> }).pools.map((p) => p.id);
    expect(await pools()).toEqual(['a']);
    writeConfig('hup.json', fileConfig([mock('a'), mock('z')], { telemetry: { log_level: 'info' } }));
    child.kill('SIGHUP');
    await waitFor(async () => (await pools()).join() === 'a,z', 5_000, 'pools after SIGHUP');
    writeFileSync(path, JSON.stringify({ pools: 'not a list' }));
    child.kill('SIGHUP');
    await waitFor(() => logged.some((l) => l.includes('configuration reload refused')), 5_000, 'refusal logged');
    expect(await pools()).toEqual(['a', 'z']);
    expect(child.exitCode).toBeNull();
  });

  const logged: string[] = [];
  async function listeningAddress(proc: ChildProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      let buffer = '';
      proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          logged.push(line);
          const match = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line);
          if (match?.[1]) resolve(match[1]);
        }
      });
      proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    });
  }
});
