// The embedded audit's Postgres runs with the memory bounds docs/operations.md "Memory" states:
// PGlite touches all of shared_buffers at start and its WebAssembly memory never shrinks.

import { describe, expect, it } from 'vitest';
import { MEMORY_DATA_DIR, PgliteWorkerStore } from '../../src/audit/pglite-store.ts';

describe('embedded audit memory bounds', () => {
  it('runs the worker Postgres with 4 MB shared_buffers and 16 MB maintenance_work_mem', async () => {
    const store = await PgliteWorkerStore.open({ dataDir: MEMORY_DATA_DIR });
    try {
      const rows = await store.sql(`SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'maintenance_work_mem') ORDER BY name`);
      expect(rows).toEqual([
        { name: 'maintenance_work_mem', setting: '16384', unit: 'kB' },
        { name: 'shared_buffers', setting: '512', unit: '8kB' },
      ]);
    } finally {
      await store.close();
    }
  }, 180_000); // initdb runs in WebAssembly: about a minute on a busy 2-core machine
});
