import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import { LeanPool } from './lean-dispatch.ts';
import { startFakeServer, type FakeServer } from '../../test/fakes/http/fake-server.ts';

describe('LeanPool', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer(async (ex) => {
      ex.res.writeHead(200, { 'content-type': 'text/plain', 'x-rate': '7' }).end('body');
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers requests with their parsed headers and body as a Pool does', async () => {
    const pool = new LeanPool(server.url);
    try {
      const res = await pool.request({ method: 'GET', path: '/x' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-rate']).toBe('7');
      expect(await res.body.text()).toBe('body');
    } finally {
      await pool.close();
    }
  });

  it('drops the raw header buffers once the response head was handed on', async () => {
    const pool = new LeanPool(server.url);
    const seen: Array<Dispatcher.DispatchController['rawHeaders']> = [];
    try {
      await new Promise<void>((resolve, reject) => {
        let controller: Dispatcher.DispatchController | undefined;
        pool.dispatch(
          { method: 'GET', path: '/y' },
          {
            onRequestStart: (c) => void (controller = c),
            onResponseStart: (c) => void seen.push(c.rawHeaders),
            onResponseData: () => void seen.push(controller?.rawHeaders),
            onResponseEnd: () => resolve(),
            onResponseError: (_c, err) => reject(err),
          },
        );
      });
      // Inside onResponseStart the head is still there (responseHeaders: 'raw' reads it); after, gone.
      expect(Array.isArray(seen[0])).toBe(true);
      expect(seen.slice(1)).toEqual([null]);
    } finally {
      await pool.close();
    }
  });
});
