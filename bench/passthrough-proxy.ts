// The bare pass-through proxy: a node:http server that forwards every request to one upstream
// over an undici Pool and pipes the response body back as it arrives. No parsing, no state —
// the floor any Node gateway pays for an extra hop. Prints {"url": ...} once it listens.
//   node bench/passthrough-proxy.ts --target http://127.0.0.1:PORT --port 0

import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'host']);

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

const { values } = parseArgs({ options: { target: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.target) {
  process.stderr.write('--target <url> is required\n');
  process.exit(2);
}
const upstream = new Pool(values.target, { connections: null, pipelining: 1, keepAliveTimeout: 4_000 });

const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  upstream
    .stream(
      {
        method: (req.method ?? 'GET') as 'GET',
        path: req.url ?? '/',
        headers: endToEnd(req.headers) as Record<string, string>,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
        signal: abort.signal,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, endToEnd(headers));
        res.flushHeaders();
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"error":"upstream failed"}');
      } else {
        res.destroy();
      }
    });
});
server.listen(Number(values.port), '127.0.0.1');
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void upstream.close().finally(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
