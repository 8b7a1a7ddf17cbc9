// Every configuration under examples/ is valid as shipped: it passes the same validation as a
// config file at start-up, and every replica's adapter accepts its engine `options`.

import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/adapters/registry.ts';
import { readConfigFile, validateConfig } from '../../src/config/load.ts';

const dir = new URL('../../examples/', import.meta.url);
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

describe('examples/', () => {
  it('has one example per engine and a mixed one', () => {
    expect(files).toEqual(expect.arrayContaining(['llamacpp.yaml', 'vllm.yaml', 'tgi.yaml', 'triton.yaml', 'mixed.yaml']));
  });

  it.each(files)('%s validates and builds an adapter for every replica', async (file) => {
    const result = validateConfig(await readConfigFile(new URL(file, dir).pathname));
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok) return;
    for (const pool of result.config.pools) {
      for (const replica of pool.replicas) await createAdapter(pool, replica).close();
    }
  });
});
