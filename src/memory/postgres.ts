import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { ancestorsOf, isWithin } from './paths';
import {
  MemoryUnavailableError,
  type MemoryChange,
  type MemoryEntry,
  type MemoryNode,
  type MemoryPlan,
  type MemoryScope,
  type MemoryStore,
  type MemoryView,
  type MemoryWriteResult,
} from './store';

/** Queries run by a pool or by one transaction's client. */
type Queryable = Pick<PoolClient, 'query'>;

/**
 * The schema, created on first use. Directories are rows too (so an empty one exists, as on a file
 * system); the root (`''`) is never stored. `agent_memory_writes` holds each write's result by key,
 * inserted in the transaction that applied it: a write and its record commit together or not at all.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS agent_memory_entries (
  agent text NOT NULL,
  tenant text NOT NULL,
  path text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('file', 'dir')),
  content text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent, tenant, path)
);
CREATE TABLE IF NOT EXISTS agent_memory_writes (
  agent text NOT NULL,
  tenant text NOT NULL,
  key text NOT NULL,
  result text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent, tenant, key)
);`;

/** Advisory lock id taken while the schema is created (two workers starting at once must not race). */
const SCHEMA_LOCK = 0x6d656d6f; // "memo"

/**
 * Memory in PostgreSQL, shared by every worker of a deployment. A write is one transaction: an advisory
 * lock on its scope (so two writes of one tenant's memory are serialised), the key looked up, the plan
 * made on what the transaction reads, its changes applied and its result recorded, then COMMIT. A
 * retry after a commit whose answer was lost finds the record and applies nothing.
 */
export class PostgresMemoryStore implements MemoryStore {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private schema?: Promise<void>;

  constructor(options: { connectionString: string } | PoolConfig) {
    // A few connections per worker: memory commands are short.
    this.pool = new Pool({ max: 4, ...options });
    // An idle client that loses its connection emits here; unhandled, it would crash the worker.
    this.pool.on('error', () => undefined);
  }

  view(scope: MemoryScope): MemoryView {
    return this.viewOn(this.pool, scope, true);
  }

  async write(
    scope: MemoryScope,
    key: string,
    plan: (view: MemoryView) => Promise<MemoryPlan>,
  ): Promise<MemoryWriteResult> {
    await this.ready();
    const client = await this.connect();
    const tenant = scope.tenant.toLowerCase();
    let open = false;
    try {
      await client.query('BEGIN');
      open = true;
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `${scope.agent}/${tenant}`,
      ]);
      const recorded = await client.query<{ result: string }>(
        'SELECT result FROM agent_memory_writes WHERE agent = $1 AND tenant = $2 AND key = $3',
        [scope.agent, tenant, key],
      );
      if (recorded.rows.length > 0) {
        await client.query('COMMIT');
        open = false;
        return { result: recorded.rows[0].result, replayed: true };
      }
      const planned = await plan(this.viewOn(client, scope, false));
      for (const change of planned.changes) await apply(client, scope.agent, tenant, change);
      await client.query(
        'INSERT INTO agent_memory_writes (agent, tenant, key, result) VALUES ($1, $2, $3, $4)',
        [scope.agent, tenant, key, planned.result],
      );
      await client.query('COMMIT');
      open = false;
      return { result: planned.result, replayed: false };
    } catch (err) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private viewOn(db: Queryable, scope: MemoryScope, own: boolean): MemoryView {
    const tenant = scope.tenant.toLowerCase();
    const ready = async () => {
      if (own) await this.ready();
    };
    return {
      get: async (path) => {
        if (path === '') return { kind: 'dir' };
        await ready();
        const rows = await run(
          db,
          'SELECT kind, content FROM agent_memory_entries WHERE agent = $1 AND tenant = $2 AND path = $3',
          [scope.agent, tenant, path],
        );
        const row = rows[0] as { kind: 'file' | 'dir'; content: string | null } | undefined;
        if (!row) return undefined;
        return row.kind === 'dir'
          ? { kind: 'dir' }
          : ({ kind: 'file', content: row.content ?? '' } satisfies MemoryNode);
      },
      descendants: async (path) => {
        await ready();
        // A prefix compare, not LIKE: names may hold `%` and `_`.
        const rows = await run(
          db,
          `SELECT path, kind, coalesce(octet_length(content), 0) AS size FROM agent_memory_entries
           WHERE agent = $1 AND tenant = $2 AND ($3 = '' OR left(path, length($3) + 1) = $3 || '/')`,
          [scope.agent, tenant, path],
        );
        return (rows as Array<{ path: string; kind: 'file' | 'dir'; size: number | string }>)
          .filter((row) => row.path !== path && isWithin(row.path, path))
          .map((row): MemoryEntry => ({ path: row.path, kind: row.kind, size: Number(row.size) }));
      },
    };
  }

  private ready(): Promise<void> {
    this.schema ??= (async () => {
      const client = await this.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(SCHEMA);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    })().catch((err: unknown) => {
      this.schema = undefined; // try again on the next call
      throw err;
    });
    return this.schema;
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new MemoryUnavailableError(`cannot reach the memory database: ${(err as Error).message}`);
    }
  }
}

async function run(db: Queryable, sql: string, params: unknown[]): Promise<unknown[]> {
  return (await db.query(sql, params)).rows;
}

async function apply(db: Queryable, agent: string, tenant: string, change: MemoryChange): Promise<void> {
  const ensureDirs = async (path: string) => {
    for (const dir of ancestorsOf(path)) {
      await db.query(
        `INSERT INTO agent_memory_entries (agent, tenant, path, kind) VALUES ($1, $2, $3, 'dir') ON CONFLICT DO NOTHING`,
        [agent, tenant, dir],
      );
    }
  };
  switch (change.op) {
    case 'put':
      await ensureDirs(change.path);
      await db.query(
        `INSERT INTO agent_memory_entries (agent, tenant, path, kind, content) VALUES ($1, $2, $3, 'file', $4)
         ON CONFLICT (agent, tenant, path) DO UPDATE SET kind = 'file', content = EXCLUDED.content, updated_at = now()`,
        [agent, tenant, change.path, change.content],
      );
      return;
    case 'remove':
      await db.query(
        `DELETE FROM agent_memory_entries WHERE agent = $1 AND tenant = $2 AND (path = $3 OR left(path, length($3) + 1) = $3 || '/')`,
        [agent, tenant, change.path],
      );
      return;
    case 'move':
      await ensureDirs(change.to);
      // The entry and everything under it: the new prefix in place of the old one.
      await db.query(
        `UPDATE agent_memory_entries SET path = $4 || substr(path, length($3) + 1), updated_at = now()
         WHERE agent = $1 AND tenant = $2 AND (path = $3 OR left(path, length($3) + 1) = $3 || '/')`,
        [agent, tenant, change.from, change.to],
      );
      return;
  }
}
