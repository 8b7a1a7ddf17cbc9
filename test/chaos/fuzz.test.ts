// Standing fuzz suite (issue 10): ≥ 20,000 generated requests over every route of the contract,
// audit and control included, with and without tokens, plus raw malformed HTTP. Demands: no
// 5xx, every error in the envelope with the status its code maps to, the state unchanged, and a
// normal task still completes afterwards. The seed is printed with any failure; replay with
// ORCHQUEUE_FUZZ_SEED=<seed>.

import { connect } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE, isErrorCode } from '../../src/core/errors.ts';
import { createTestDatabase, databaseUrl } from '../integration/audit-backends.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { generator, malformedRequests, type FuzzCase } from './fuzz-cases.ts';

const SEED = Number(process.env.ORCHQUEUE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = Number(process.env.ORCHQUEUE_FUZZ_REQUESTS ?? 20_000);
const CONCURRENCY = 16;
const tokens = { data: 'fuzz-data-token-1', control: 'fuzz-control-token-1' };
const BODY_LIMIT = 65_536;

let gw: TestGateway;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
  gw = await startGateway(
    testConfig({
      server: { body_limit_bytes: BODY_LIMIT, max_tokens_limit: 64, headers_timeout_ms: 2_000, request_timeout_ms: 5_000 },
      auth: { data_tokens: [tokens.data], control_tokens: [tokens.control] },
      audit: { backend: 'postgres', database_url: databaseUrl(db.name) },
    }),
  );
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** Everything a client or operator can observe that a refused request must not change. */
async function observableState() {
  const control = { authorization: `Bearer ${tokens.control}` };
  const pool = (await gw.get('/v1/pools/demo', control)).body as Record<string, unknown>;
  return {
    tasks: gw.tasks.size,
    sessions: gw.sessions.size,
    pools: (await gw.get('/v1/pools', control)).body,
    replicas: pool.replicas,
    capabilities: (await gw.get('/v1/capabilities', control)).body,
    holds: (await gw.get('/v1/audit/holds', control)).body,
    readyz: (await gw.get('/readyz')).status,
  };
}

interface Failure {
  label: string;
  request: string;
  status: number;
  problem: string;
  body: string;
}

/** The dialect routes answer in their client's envelope (ORCH-1103), every other route in ours. */
const OPENAI_ROUTES = new Set(['POST /v1/chat/completions', 'POST /v1/completions', 'GET /v1/models']);
const ANTHROPIC_ROUTES = new Set(['POST /v1/messages']);

/** OpenAI's `{error: {message, type, param, code}}` with our code, or Anthropic's `{type: "error", error: {type, message}}`. */
function dialectProblem(route: string, status: number, parsed: unknown): string | undefined {
  if (OPENAI_ROUTES.has(route)) {
    const error = (parsed as { error?: Record<string, unknown> } | null)?.error;
    if (!error || typeof error.message !== 'string' || typeof error.type !== 'string' || !('param' in error)) return 'no OpenAI error envelope';
    if (!isErrorCode(error.code) || ERROR_TABLE[error.code].status !== status) return `OpenAI envelope code ${String(error.code)} sent with status ${status}`;
    return undefined;
  }
  const body = parsed as { type?: unknown; error?: { type?: unknown; message?: unknown } } | null;
  if (body?.type !== 'error' || typeof body.error?.type !== 'string' || typeof body.error.message !== 'string') return 'no Anthropic error envelope';
  return undefined;
}

/** The envelope rule: an error body names a known code whose status is the one sent. */
function envelopeProblem(status: number, headers: Record<string, string | string[] | undefined>, text: string, path = '', method = ''): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'error body is not JSON';
  }
  // A method the route does not serve is no dialect route: `no route` answers in our envelope.
  const route = `${method} ${path.split('?')[0] ?? ''}`;
  if (OPENAI_ROUTES.has(route) || ANTHROPIC_ROUTES.has(route)) {
    if (/\bat .*\.(ts|js):\d+|node_modules/.test(text)) return 'stack trace in the body';
    return dialectProblem(route, status, parsed);
  }
  const error = (parsed as { error?: Record<string, unknown> } | null)?.error;
  if (!error || typeof error !== 'object') return 'no error envelope';
  if (!isErrorCode(error.code)) return `unknown code ${String(error.code)}`;
  if (ERROR_TABLE[error.code].status !== status) return `code ${error.code} sent with status ${status}`;
  if (typeof error.message !== 'string' || typeof error.retriable !== 'boolean') return 'message/retriable missing';
  if (typeof error.correlation_id !== 'string' || error.correlation_id !== headers['x-correlation-id']) return 'correlation id missing or not the header';
  if (/\bat .*\.(ts|js):\d+|node_modules/.test(text)) return 'stack trace in the body';
  return undefined;
}

/** Status histogram: the suite also checks that the generator reaches past auth and routing. */
const statuses = new Map<number, number>();


async function send(pool: Pool, c: FuzzCase): Promise<Failure | undefined> {
  const res = await pool.request({ method: c.method as 'GET', path: c.path, headers: c.headers, ...(c.body === undefined ? {} : { body: c.body }) });
  const text = c.method === 'HEAD' ? '' : await res.body.text();
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const fail = (problem: string): Failure => ({ label: c.label, request: `${c.method} ${c.path.slice(0, 200)} ${JSON.stringify(c.headers).slice(0, 200)} ${(c.body ?? '').slice(0, 200)}`, status: res.statusCode, problem, body: text.slice(0, 300) });
  if (res.statusCode >= 500) return fail('5xx');
  if (c.mustFail && res.statusCode < 400) return fail('a broken write was accepted');
  if (res.statusCode >= 400 && c.method !== 'HEAD') {
    const problem = envelopeProblem(res.statusCode, res.headers, text, c.path, c.method);
    if (problem) return fail(problem);
  }
  return undefined;
}

/** Raw bytes on a fresh socket; the answer, if any, must be an envelope, and the socket must close. */
function sendRaw(url: string, bytes: string): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`socket still open after 5 s for ${JSON.stringify(bytes.slice(0, 60))}`);
    }, 5_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      // Some of these are valid enough to be answered on a keep-alive socket: close our side.
      if (received.includes('\r\n\r\n') && /content-length: (\d+)/i.test(received)) {
        const length = Number(/content-length: (\d+)/i.exec(received)?.[1]);
        if (Buffer.byteLength(received.slice(received.indexOf('\r\n\r\n') + 4)) >= length) socket.end();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (received === '') return resolve(undefined);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);
      const head = received.slice(0, received.indexOf('\r\n\r\n'));
      const correlation = /x-correlation-id: (\S+)/i.exec(head)?.[1];
      if (status >= 500) return resolve(`5xx for ${JSON.stringify(bytes.slice(0, 60))}`);
      if (status >= 400) {
        const problem = envelopeProblem(status, { 'x-correlation-id': correlation }, received.slice(received.indexOf('\r\n\r\n') + 4));
        if (problem) return resolve(`${problem} for ${JSON.stringify(bytes.slice(0, 60))}: ${received.slice(0, 200)}`);
      }
      resolve(undefined);
    });
    socket.write(bytes);
  });
}

describe(`fuzz (seed ${SEED})`, () => {
  it(`answers ${REQUESTS} generated requests without a 5xx, every error in the envelope, and changes nothing`, async () => {
    const before = await observableState();
    const cases = generator(SEED, { tokens, bodyLimit: BODY_LIMIT, poolId: 'demo' });
    const pool = new Pool(gw.url, { connections: 8, pipelining: 1 });
    const failures: Failure[] = [];
    let sent = 0;
    let transportErrors = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const c = cases.next();
        try {
          const failure = await send(pool, c);
          if (failure && failures.length < 20) failures.push(failure);
        } catch (error) {
          // Only an oversized request may be cut off (the discard limit closes it); anything else is a finding.
          if ((c.body?.length ?? 0) <= BODY_LIMIT && c.path.length < 2_000) {
            transportErrors++;
            if (failures.length < 20) failures.push({ label: c.label, request: `${c.method} ${c.path.slice(0, 200)}`, status: 0, problem: String(error), body: '' });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await pool.close();
    const raw = (await Promise.all(malformedRequests(SEED).map((bytes) => sendRaw(gw.url, bytes)))).filter((p): p is string => p !== undefined);
    expect({ seed: SEED, failures, transportErrors, raw: raw.slice(0, 10) }, `fuzz seed ${SEED}: replay with ORCHQUEUE_FUZZ_SEED=${SEED}`).toEqual({ seed: SEED, failures: [], transportErrors: 0, raw: [] });
    expect(await observableState(), `fuzz seed ${SEED}: state changed`).toEqual(before);
    // The generator must reach past auth and routing, or the suite proves little.
    const histogram = Object.fromEntries(statuses);
    for (const status of [200, 400, 401, 403, 404]) expect(histogram[status] ?? 0, `fuzz seed ${SEED}: no ${status} in ${JSON.stringify(histogram)}`).toBeGreaterThan(0);
    expect(histogram[400] ?? 0, `fuzz seed ${SEED}: too few 400s in ${JSON.stringify(histogram)}`).toBeGreaterThan(REQUESTS / 10);
  }, 120_000);

  it('still completes a normal task afterwards, and the audit chain is intact', async () => {
    const res = await gw.post('/v1/tasks', { model: 'demo', prompt: 'after the storm', max_tokens: 8 }, { authorization: `Bearer ${tokens.data}` });
    expect(res.status, `fuzz seed ${SEED}`).toBe(202);
    const { task_id } = res.body as { task_id: string };
    const stream = await openStream(`${gw.url}/v1/tasks/${task_id}/stream`, { headers: { authorization: `Bearer ${tokens.data}` } });
    expect(terminal(stream.events).map((e) => e.event)).toEqual(['end']);
    const verified = await gw.post('/v1/audit/verify', undefined, { authorization: `Bearer ${tokens.control}` });
    expect(verified.body).toMatchObject({ ok: true });
  });
});
