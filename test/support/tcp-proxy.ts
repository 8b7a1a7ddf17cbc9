// A TCP proxy the tests put between the gateway and Postgres to play network faults: `cut`
// drops every connection and refuses new ones (the database is down), `freeze` keeps the
// connections open but delivers nothing either way (a hung database or a black-holed network),
// `restore` ends either fault (frozen bytes are delivered then, in order).

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): void;
  freeze(): void;
  restore(): void;
  close(): Promise<void>;
}

export function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let state: 'up' | 'cut' | 'frozen' = 'up';
  /** Forwards `from` → `to`, holding chunks while frozen. */
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (state === 'frozen') held.push(() => to.write(chunk));
      else to.write(chunk);
    });
    from.on('end', () => to.end());
  };
  const server: Server = createServer((client) => {
    if (state === 'cut') return void client.destroy();
    const upstream = connect({ host: target.host, port: target.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => undefined);
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        port,
        cut() {
          state = 'cut';
          held.length = 0;
          for (const socket of sockets) socket.destroy();
        },
        freeze() {
          state = 'frozen';
        },
        restore() {
          state = 'up';
          for (const deliver of held.splice(0)) deliver();
        },
        close: () => new Promise((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}
