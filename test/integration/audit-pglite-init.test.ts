// A new embedded audit directory is created and migrated by a throwaway process, built beside
// audit.data_dir and renamed into place, so the long-lived worker never carries initdb's memory
// (docs/operations.md "Memory") and a start that dies part-way never leaves a half-made directory.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAudit } from '../../src/audit/create-audit.ts';
import { AuditDataDirError, PgliteWorkerStore, type SpawnWorker } from '../../src/audit/pglite-store.ts';
import type { AuditConfig } from '../../src/config/schema.ts';
import { admittedFact, recordingLogger } from './audit-backends.ts';

const INIT_MS = 240_000; // initdb runs in WebAssembly: about a minute on a busy 2-core machine

/** Whether the directory a worker was started on was already initialised at that moment. */
interface Spawned { dataDir: string; initialised: boolean }

function recordingSpawn(): { spawn: SpawnWorker; spawned: Spawned[] } {
  const spawned: Spawned[] = [];
  const spawn: SpawnWorker = (url, options) => {
    spawned.push({ dataDir: options.dataDir, initialised: existsSync(join(options.dataDir, 'PG_VERSION')) });
    return new Worker(url, { workerData: options, execArgv: [] });
  };
  return { spawn, spawned };
}

describe('first start of the embedded audit', () => {
  let parent: string;
  let dataDir: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'orchqueue-init-'));
    dataDir = join(parent, 'audit');
  });
  afterEach(() => rm(parent, { recursive: true, force: true }));

  it('initialises a new directory outside the gateway, then starts the one worker on it', async () => {
    const { spawn, spawned } = recordingSpawn();
    const store = await PgliteWorkerStore.open({ dataDir, spawn });
    try {
      // The long-lived worker found a complete database: it ran no initdb of its own.
      expect(spawned).toEqual([{ dataDir, initialised: true }]);
      expect((await stat(join(dataDir, 'PG_VERSION'))).isFile()).toBe(true);
      expect(await readdir(parent)).toEqual(['audit']); // the temp directory was renamed, none is left
      const applied = await store.sql('SELECT version FROM schema_migrations ORDER BY version');
      expect(applied.length).toBeGreaterThanOrEqual(3);
    } finally {
      await store.close();
    }

    // The initialised directory is an ordinary restart from here: rows go in, come back, verify.
    const config: AuditConfig = {
      backend: 'pglite', data_dir: dataDir, fail_closed: true, batch_max_rows: 64, batch_max_ms: 2, buffer_max_rows: 1_000, hash_prompts: false,
    };
    const audit = await createAudit(config, { logger: recordingLogger(), env: {} });
    try {
      for (let i = 0; i < 3; i++) await audit.writer.commitAdmission(admittedFact(`fresh-${i}`));
      const rows = await audit.store!.query({ limit: 10 });
      expect(rows.map((row) => row.task_id)).toEqual(['fresh-0', 'fresh-1', 'fresh-2']);
      expect(await audit.store!.verify()).toMatchObject({ ok: true, rows: 3 });
    } finally {
      await audit.close();
    }
  }, INIT_MS);

  it('removes what an interrupted initialisation left beside the directory and starts cleanly', async () => {
    // A start killed during initdb: a partial temp directory (even one with a PG_VERSION), and an
    // empty data directory made by an older gateway's mkdir.
    const leftover = join(parent, 'audit.initialising-0badf00d');
    await mkdir(join(leftover, 'base'), { recursive: true });
    await writeFile(join(leftover, 'PG_VERSION'), '17\n');
    await mkdir(dataDir);
    const { spawn, spawned } = recordingSpawn();
    const store = await PgliteWorkerStore.open({ dataDir, spawn });
    try {
      expect(spawned).toEqual([{ dataDir, initialised: true }]);
      expect(await readdir(parent)).toEqual(['audit']);
      expect(await store.sql('SELECT count(*)::int AS n FROM audit_log')).toEqual([{ n: 0 }]);
    } finally {
      await store.close();
    }
  }, INIT_MS);

  it('refuses a non-empty directory that holds no database, and touches nothing in it', async () => {
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'mine');
    const { spawn, spawned } = recordingSpawn();
    const opening = PgliteWorkerStore.open({ dataDir, spawn });
    await expect(opening).rejects.toBeInstanceOf(AuditDataDirError);
    await expect(opening).rejects.toThrow(/is not empty but holds no PGlite database/);
    expect(spawned).toHaveLength(0);
    expect(await readdir(dataDir)).toEqual(['notes.txt']);
  });

  it('gives a typed error naming the path when the directory cannot be created', async () => {
    const blocker = join(parent, 'file');
    await writeFile(blocker, '');
    const opening = PgliteWorkerStore.open({ dataDir: join(blocker, 'audit') });
    await expect(opening).rejects.toBeInstanceOf(AuditDataDirError);
    await expect(opening).rejects.toThrow(/audit\.data_dir .*file[/\\]audit/);
  });
});
