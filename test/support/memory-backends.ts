/** Both memory backends for a suite: the filesystem in a temp dir and a real PostgreSQL. */
import { afterAll, beforeAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemMemoryStore } from '../../src/memory/filesystem';
import { PostgresMemoryStore } from '../../src/memory/postgres';
import type { MemoryStore } from '../../src/memory/store';
import { startPostgres, type PostgresServer } from '../../src/testing/postgres';

/**
 * Starts both backends before the suite's tests and closes them after: the stores by name
 * (`filesystem`, `postgres`), filled in `beforeAll`.
 */
export function memoryBackendsForSuite(name: string): Record<'filesystem' | 'postgres', MemoryStore> {
  const stores = {} as Record<'filesystem' | 'postgres', MemoryStore>;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  let pg: PostgresServer | undefined;
  beforeAll(async () => {
    pg = await startPostgres();
    stores.filesystem = new FilesystemMemoryStore({ dir });
    stores.postgres = new PostgresMemoryStore({ connectionString: pg.url });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(Object.values(stores).map((s) => s.close()));
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return stores;
}
