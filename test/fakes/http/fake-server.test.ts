import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { splitAwkwardly, startFakeServer } from './fake-server.ts';

describe('splitAwkwardly', () => {
  it('cuts after the first byte and inside every multibyte sequence, losing nothing', () => {
    const bytes = Buffer.from('data: é日🙂\n\n', 'utf8');
    const pieces = splitAwkwardly(bytes);
    expect(Buffer.concat(pieces)).toEqual(bytes);
    expect(pieces[0]).toHaveLength(1);
    const decoded = pieces.map((p) => new TextDecoder('utf-8', { fatal: false }).decode(p));
    expect(decoded.filter((d) => d.includes('\uFFFD')).length).toBeGreaterThanOrEqual(3);
  });

  it('leaves a one-byte payload whole', () => {
    expect(splitAwkwardly(Buffer.from('x'))).toEqual([Buffer.from('x')]);
  });
});

describe('startFakeServer', () => {
  it('records an early client hang-up as aborted and its own reset as reset, not aborted', async () => {
    const server = await startFakeServer(async (ex) => {
      ex.res.writeHead(200);
      await ex.write('first');
      if (ex.record.path === '/reset') ex.reset();
      else await ex.closed;
    });
    try {
      const res = await request(`${server.url}/hangup`);
      for await (const _ of res.body) break;
      const hungUp = await server.settled(0);
      expect(hungUp).toMatchObject({ aborted: true, reset: false, finished: false });

      await request(`${server.url}/reset`).then((r) => r.body.text()).catch(() => undefined);
      expect(await server.settled(1)).toMatchObject({ aborted: false, reset: true, finished: false });
    } finally {
      await server.close();
    }
  });

  it('resolves settled() for a request that has not arrived yet', async () => {
    const server = await startFakeServer(async (ex) => ex.json(200, { ok: true }));
    try {
      const later = server.settled(0);
      await (await request(server.url, { method: 'POST', body: '{"a":1}' })).body.text();
      expect(await later).toMatchObject({ method: 'POST', body: { a: 1 }, finished: true, aborted: false });
    } finally {
      await server.close();
    }
  });

  it('refuses connections and accepts them again on the same port', async () => {
    const server = await startFakeServer(async (ex) => ex.json(200, {}));
    const url = server.url;
    try {
      await server.refuseConnections();
      expect(server.accepting).toBe(false);
      await expect(request(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await server.acceptConnections();
      expect(server.url).toBe(url);
      expect((await request(url)).statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});
