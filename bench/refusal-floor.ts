// The floor of a 429: a bare node:http server that reads each request body and answers 429 with
// an ADMISSION_REJECT envelope of the gateway's size and its backoff headers. No routing, parsing
// or admission — what any Node server pays per refusal (mostly the socket write). Prints
// {"url": ...} once it listens.
//   node bench/refusal-floor.ts --port 0

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
let n = 0;
const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  req.resume();
  req.once('end', () => {
    const id = `floor-${n++}`;
    const body = JSON.stringify({
      error: { code: 'ADMISSION_REJECT', message: 'pool bench queue is full (8 waiting)', retriable: true, pool_id: 'bench', retry_after_ms: 1_000, policy_label: 'reject', correlation_id: id },
    });
    res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-correlation-id': id, 'retry-after': '1', 'x-backoff-ms': '1000' });
    res.end(body);
  });
});
server.listen(Number(values.port), '127.0.0.1');
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
