// Vitest global setup: database tests use the real PostgreSQL at 127.0.0.1:5432 and must never
// skip silently. If the server is not running, start it the way the machine notes describe.

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';

const PG_HOST = '127.0.0.1';
const PG_PORT = 5432;

function reachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: PG_HOST, port: PG_PORT });
    socket.setTimeout(1_000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

async function startPostgres(): Promise<void> {
  const versions = readdirSync('/etc/postgresql');
  for (const version of versions) {
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
  }
  for (let i = 0; i < 50; i++) {
    if (await reachable()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`PostgreSQL did not come up on ${PG_HOST}:${PG_PORT}`);
}

export default async function setup(): Promise<void> {
  if (process.env.ORCHQUEUE_TEST_PG_URL) return;
  if (!(await reachable())) await startPostgres();
  process.env.ORCHQUEUE_TEST_PG_URL = `postgres://postgres@${PG_HOST}:${PG_PORT}/postgres`;
}
