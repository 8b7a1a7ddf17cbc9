// A throw-away database on the local server Postgres (127.0.0.1:5432, trust auth) for one
// scenario's audit arm: created before the gateways start, dropped (forcefully) after.

import pg from 'pg';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export type BenchDatabase = { ok: true; name: string; url: string } | { ok: false; reason: string };

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates `orchqueue_bench_<scenario>_<pid>_<time>`; says why when the server is not usable. */
export async function createBenchDatabase(scenario: string): Promise<BenchDatabase> {
  const name = `orchqueue_bench_${scenario}_${process.pid}_${Date.now()}`;
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  return { ok: true, name, url: `postgres://postgres@127.0.0.1:5432/${name}` };
}

export async function dropBenchDatabase(name: string): Promise<void> {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
}
