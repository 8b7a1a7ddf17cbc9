// Starts the real gateway (the same compose() as main.ts) on an ephemeral loopback port with a
// config built from the embedded defaults plus overrides, and gives tests a small HTTP client.

import pino from 'pino';
import { request } from 'undici';
import { DEFAULT_CONFIG_INPUT, validateConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import type { AdmissionRecorder } from '../../src/core/observer.ts';
import { compose, type ComposeOptions, type Gateway } from '../../src/main.ts';

export interface TestGateway extends Gateway {
  url: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  get(path: string, headers?: Record<string, string>): Promise<HttpResult>;
  del(path: string, headers?: Record<string, string>): Promise<HttpResult>;
  raw(method: 'POST' | 'GET' | 'DELETE' | 'PUT', path: string, body?: string, headers?: Record<string, string>): Promise<HttpResult>;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

/** A fast mock pool for tests: `mock` settings apply to every replica. */
export function mockPool(over: Record<string, unknown> = {}, mock: Record<string, unknown> = {}) {
  const replicas = (over.replicas as Array<Record<string, unknown>> | undefined) ?? [{ id: 'mock-0', slots: 2 }];
  return {
    id: 'demo',
    engine: 'mock',
    model: 'demo',
    ...over,
    replicas: replicas.map((r) => ({ ...r, mock: { tokens_per_s: 2_000, first_token_delay_ms: 1, ...mock, ...(r.mock as object) } })),
  };
}

/** Embedded defaults + a fast mock pool + overrides; validated like a real config file. */
export function testConfig(over: Record<string, unknown> = {}): Config {
  const input = {
    ...DEFAULT_CONFIG_INPUT,
    pools: [mockPool()],
    audit: { backend: 'off' },
    telemetry: { log_level: 'silent' },
    ...over,
  };
  const result = validateConfig(input);
  if (!result.ok) throw new Error(`bad test config: ${result.problems.join('; ')}`);
  return result.config;
}

/** An admission recorder whose first commit fails (the audit store down once), then every one lands. */
export function failingFirstCommit(): AdmissionRecorder {
  let failNext = true;
  return {
    accepting: () => true,
    commitAdmission: () => {
      if (!failNext) return Promise.resolve();
      failNext = false;
      return Promise.reject(new Error('down'));
    },
  };
}

export async function startGateway(config: Config = testConfig(), opts: ComposeOptions = {}): Promise<TestGateway> {
  const gateway = await compose(config, { logger: pino({ level: 'silent' }), ...opts });
  const address = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
  const raw: TestGateway['raw'] = async (method, path, body, headers = {}) => {
    const res = await request(`${address}${path}`, { method, body, headers });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.statusCode, headers: res.headers, body: parsed, text };
  };
  return {
    ...gateway,
    url: address,
    raw,
    post: (path, body, headers = {}) =>
      raw('POST', path, body === undefined ? undefined : JSON.stringify(body), { 'content-type': 'application/json', ...headers }),
    get: (path, headers) => raw('GET', path, undefined, headers),
    del: (path, headers) => raw('DELETE', path, undefined, headers),
  };
}
