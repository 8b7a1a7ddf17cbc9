// What loading the composition root costs the embedded default: the redis backend's modules come
// in only with state.backend redis, the pg driver only with audit.backend postgres, the Swagger
// plugins only with the first request under /docs (docs/operations.md "Memory"). In a child process: the vitest
// worker has loaded whatever other suites imported.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** The node_modules packages loaded once `module` is imported, by package name. */
async function packagesLoadedBy(module: string): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(module)});
    const names = Object.keys(createRequire(import.meta.url).cache).map((path) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(path)?.[1]);
    console.log(JSON.stringify([...new Set(names.filter(Boolean))]));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  return JSON.parse(stdout) as string[];
}

describe('loading src/main.ts', () => {
  it('leaves ioredis (the redis backend), pg (the server Postgres audit store) and the /docs page unloaded and loads fastify', async () => {
    const loaded = await packagesLoadedBy(MAIN);
    expect(loaded).toContain('fastify');
    expect(loaded).not.toContain('ioredis');
    expect(loaded).not.toContain('pg');
    expect(loaded).not.toContain('@fastify/swagger');
    expect(loaded).not.toContain('@fastify/swagger-ui');
  }, 30_000);
});
