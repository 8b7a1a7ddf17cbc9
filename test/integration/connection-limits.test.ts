// Issue 10 finding 2 (and the 413 part of finding 10) on real sockets: stalled bodies and
// slowloris headers time out with an envelope, refused uploads are drained then closed so a
// plain client reads the answer, and connections are capped globally and per client address.

import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

interface RawPeer {
  socket: Socket;
  /** Everything the server wrote so far. */
  text(): string;
  /** Resolves when the server closed the connection (or after `ms`, with false). */
  closed(ms: number): Promise<boolean>;
}

async function open(url: string): Promise<RawPeer> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => void (received += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  const done = new Promise<void>((resolve) => socket.once('close', () => { isClosed = true; resolve(); }));
  return {
    socket,
    text: () => received,
    closed: async (ms) => {
      if (isClosed) return true;
      await Promise.race([done, new Promise((r) => setTimeout(r, ms))]);
      return isClosed;
    },
  };
}

function envelopeOf(raw: string): { status: number; code: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  return { status, code: (JSON.parse(body) as { error: { code: string } }).error.code };
}

const tight = { headers_timeout_ms: 300, request_timeout_ms: 600 };

describe('timeouts', () => {
  it('answers a stalled upload with 408 REQUEST_TIMEOUT and closes it', async () => {
    gw = await startGateway(testConfig({ server: tight }));
    const peer = await open(gw.url);
    peer.socket.write('POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"model":"demo",');
    expect(await peer.closed(5_000)).toBe(true);
    expect(envelopeOf(peer.text())).toEqual({ status: 408, code: 'REQUEST_TIMEOUT' });
  });

  it('answers a slowloris client that never finishes its headers with 408 and closes it', async () => {
    gw = await startGateway(testConfig({ server: tight }));
    const peer = await open(gw.url);
    peer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => peer.socket.writable && peer.socket.write('X-A: b\r\n'), 50);
    try {
      expect(await peer.closed(5_000)).toBe(true);
    } finally {
      clearInterval(drip);
    }
    expect(envelopeOf(peer.text())).toEqual({ status: 408, code: 'REQUEST_TIMEOUT' });
  });

  it('closes an unauthenticated upload that stalls after its 401', async () => {
    gw = await startGateway(testConfig({ server: tight, auth: { data_tokens: ['data-token-1'] } }));
    const peer = await open(gw.url);
    peer.socket.write(`POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n${'x'.repeat(10_000)}`);
    expect(await peer.closed(5_000)).toBe(true);
    expect(envelopeOf(peer.text())).toEqual({ status: 401, code: 'UNAUTHORIZED' });
  });
});

describe('refused uploads', () => {
  it('keeps reading a refused upload after the 413 instead of resetting it, then serves the next request on the connection', async () => {
    gw = await startGateway(testConfig({ server: { body_limit_bytes: 4_096 } }));
    const peer = await open(gw.url);
    peer.socket.write(`POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300000\r\n\r\n${'x'.repeat(100_000)}`);
    await expect.poll(() => peer.text()).toContain('PAYLOAD_TOO_LARGE');
    expect(envelopeOf(peer.text())).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(peer.text()).toContain('4096 bytes');
    // The client is still uploading when the answer arrives: the gateway must not close on it.
    await new Promise((r) => setTimeout(r, 100));
    expect(await peer.closed(0)).toBe(false);
    peer.socket.write('x'.repeat(200_000));
    peer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => peer.text()).toMatch(/"status":"ok"/);
    peer.socket.destroy();
    const fetched = await fetch(`${gw.url}/v1/sessions`, { method: 'POST', body: 'x'.repeat(2_000_000), headers: { 'content-type': 'application/json' } });
    expect(fetched.status).toBe(413);
  });

  it('closes the connection once a refused upload passes server.body_discard_limit_bytes', async () => {
    gw = await startGateway(testConfig({ server: { body_limit_bytes: 4_096, body_discard_limit_bytes: 65_536 } }));
    const peer = await open(gw.url);
    peer.socket.write('POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n');
    const chunk = 'x'.repeat(16_384);
    for (let i = 0; i < 64 && !peer.socket.destroyed; i++) peer.socket.write(chunk);
    expect(await peer.closed(5_000)).toBe(true);
    expect(envelopeOf(peer.text())).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('connection caps', () => {
  async function expectRefused(url: string): Promise<void> {
    const peer = await open(url);
    peer.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await peer.closed(5_000)).toBe(true);
    expect(envelopeOf(peer.text())).toEqual({ status: 429, code: 'RATE_LIMITED' });
  }

  it('refuses a client address over server.max_connections_per_client with 429 and closes the connection', async () => {
    gw = await startGateway(testConfig({ server: { max_connections_per_client: 3 } }));
    const held = await Promise.all([open(gw.url), open(gw.url), open(gw.url)]);
    await expectRefused(gw.url);
    for (const peer of held) peer.socket.destroy();
    await Promise.all(held.map((p) => p.closed(1_000)));
    await new Promise((r) => setTimeout(r, 50));
    expect((await gw.get('/healthz')).status).toBe(200);
  });

  it('refuses connections over server.max_connections with 429 and closes them', async () => {
    gw = await startGateway(testConfig({ server: { max_connections: 2 } }));
    const held = await Promise.all([open(gw.url), open(gw.url)]);
    await expectRefused(gw.url);
    for (const peer of held) peer.socket.destroy();
  });
});
