// The layering rules of .dependency-cruiser.mjs (`npm run deps`): the real src/ passes them, a
// small tree that follows the architecture passes them, and each deliberate violation written
// into a copy of that tree is caught by the rule that names it.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Each violation as "rule: from -> to", npm targets by package name (fixture trees have no node_modules). */
async function violations(baseDir: string): Promise<string[]> {
  const options = await extractDepcruiseOptions(CONFIG);
  const result = await cruise(['src'], { ...options, baseDir, validate: true });
  const output = result.output as ICruiseResult;
  return output.summary.violations
    .map((v) => `${v.rule.name}: ${v.from} -> ${v.to.replace(/^node_modules\/((?:@[^/]+\/)?[^/]+)\/.*$/, '$1')}`)
    .sort();
}

/** A tree that keeps every rule: the entry points reach every module. */
const LAWFUL: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'nodenext', allowImportingTsExtensions: true, noEmit: true } }),
  'src/main.ts': [
    "import './config/load.ts';",
    "import './api/routes.ts';",
    "import './audit/writer.ts';",
    "import './telemetry/scraper.ts';",
  ].join('\n'),
  'src/cli/main.ts': 'export const main = () => 0;',
  'src/audit/pglite-worker.ts': 'export {};',
  'src/core/task.ts': "import { randomUUID } from 'node:crypto';\nexport const newId = () => randomUUID();",
  'src/config/load.ts': "import { parse } from 'yaml';\nimport { newId } from '../core/task.ts';\nexport const load = (text: string) => ({ id: newId(), ...parse(text) });",
  'src/adapters/contract.ts': 'export interface WorkerAdapter { metricsText(): Promise<string> }\nexport const ADAPTER_VERSION = 1;',
  'src/adapters/llamacpp.ts': "import type { WorkerAdapter } from './contract.ts';\nexport const adapter = (): WorkerAdapter => ({ metricsText: async () => '' });",
  'src/pool/pool.ts': "import { adapter } from '../adapters/llamacpp.ts';\nexport const pool = [adapter()];",
  'src/orchestration/service.ts': "import { pool } from '../pool/pool.ts';\nimport { newId } from '../core/task.ts';\nexport const submit = () => ({ id: newId(), replicas: pool.length });",
  'src/api/routes.ts': "import { submit } from '../orchestration/service.ts';\nexport const routes = { submit };",
  'src/audit/writer.ts': "import { newId } from '../core/task.ts';\nexport const write = () => newId();",
  'src/telemetry/scraper.ts': "import type { WorkerAdapter } from '../adapters/contract.ts';\nexport const scrape = (a: WorkerAdapter) => a.metricsText();",
  // Unit tests are outside the product graph: they may reach adapters and test fakes.
  'src/api/routes.test.ts': "import { adapter } from '../adapters/llamacpp.ts';\nimport { fake } from '../../test/fakes/engine.ts';\nexport const both = [adapter, fake];",
  'test/fakes/engine.ts': 'export const fake = 1;',
};

/** One deliberate violation per rule; each file is imported from src/main.ts unless it is the orphan. */
const VIOLATIONS: Record<string, string> = {
  'src/core/calls-routes.ts': "import { routes } from '../api/routes.ts';\nexport const r = routes;",
  'src/core/uses-fastify.ts': "import Fastify from 'fastify';\nexport const f = Fastify;",
  'src/core/reads-files.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;",
  'src/config/knows-pools.ts': "import { pool } from '../pool/pool.ts';\nexport const p = pool;",
  'src/api/calls-engine.ts': "import { adapter } from '../adapters/llamacpp.ts';\nexport const a = adapter;",
  'src/adapters/leases.ts': "import { pool } from '../pool/pool.ts';\nexport const p = pool;",
  'src/telemetry/drives-tasks.ts': "import { submit } from '../orchestration/service.ts';\nexport const s = submit;",
  'src/audit/reads-adapter.ts': "import { ADAPTER_VERSION } from '../adapters/contract.ts';\nexport const v = ADAPTER_VERSION;",
  'src/transport/uses-fake.ts': "import { fake } from '../../test/fakes/engine.ts';\nexport const f = fake;",
  'src/pool/ping.ts': "import { pong } from './pong.ts';\nexport const ping = () => pong;",
  'src/pool/pong.ts': "import { ping } from './ping.ts';\nexport const pong = () => ping;",
  'src/transport/only-tests-use.ts': 'export const unused = 1;',
};
const ORPHAN = 'src/transport/only-tests-use.ts';

function writeTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'orchqueue-layering-'));
  tmpDirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), `${text}\n`);
  }
  return dir;
}

describe('the layering rules (npm run deps)', () => {
  it('pass the real src/', async () => {
    expect(await violations(ROOT)).toEqual([]);
  });

  it('pass a tree that follows the architecture, unit tests that reach adapters and fakes included', async () => {
    expect(await violations(writeTree(LAWFUL))).toEqual([]);
  });

  it('name every deliberate violation by its rule, and nothing else', async () => {
    const reached = Object.keys(VIOLATIONS).filter((path) => path !== ORPHAN);
    const main = `${LAWFUL['src/main.ts']}\n${reached.map((path) => `import './${path.slice('src/'.length)}';`).join('\n')}`;
    const found = await violations(writeTree({ ...LAWFUL, ...VIOLATIONS, 'src/main.ts': main }));
    expect(found).toEqual(
      [
        'core-imports-only-core: src/core/calls-routes.ts -> src/api/routes.ts',
        'core-imports-only-core: src/core/uses-fastify.ts -> fastify',
        'core-does-no-io: src/core/reads-files.ts -> fs',
        'config-is-a-leaf: src/config/knows-pools.ts -> src/pool/pool.ts',
        'routes-never-import-adapters: src/api/calls-engine.ts -> src/adapters/llamacpp.ts',
        'adapters-never-import-the-shell: src/adapters/leases.ts -> src/pool/pool.ts',
        'observers-read-facts-only: src/telemetry/drives-tasks.ts -> src/orchestration/service.ts',
        'observers-read-facts-only: src/audit/reads-adapter.ts -> src/adapters/contract.ts',
        'src-ships-alone: src/transport/uses-fake.ts -> test/fakes/engine.ts',
        'no-circular: src/pool/ping.ts -> src/pool/pong.ts',
        `src-holds-only-what-ships: ${ORPHAN} -> ${ORPHAN}`,
      ].sort(),
    );
  });
});
