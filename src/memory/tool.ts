/**
 * The memory tool as an agent offers it: sent to the API as `{type: 'memory_20250818', name: 'memory'}`,
 * its calls run by the `runTool` activity (so Temporal's retries, approvals and the audit apply) against
 * the worker's backend, in the calling conversation's agent + tenant scope.
 */
import { z } from 'zod';
import type { OfferedTool } from '../agents/offered-tool';
import type { AgentDefinition } from '../agents/define-agent';
import { formatIssues } from '../api/issues';
import { DEFAULT_TENANT, TENANT_PATTERN } from '../api/tenants';
import { approvalRequired, type ApprovalPolicy } from '../tools/define-tool';
import { MemoryCommandSchema, runMemoryCommand, type MemoryCommand } from './commands';
import { MEMORY_TOOL_NAME, MEMORY_TOOL_TYPE } from './config';
import { FilesystemMemoryStore } from './filesystem';
import { PostgresMemoryStore } from './postgres';
import { MemoryError, MemoryUnavailableError, type MemoryBackendKind, type MemoryStore } from './store';

/** The commands' JSON Schema: an operator's edit of a call waiting for approval is checked against it. */
const INPUT_SCHEMA = z.toJSONSchema(MemoryCommandSchema, { target: 'draft-2020-12', io: 'input' }) as Record<
  string,
  unknown
>;

/** The memory backends of one worker, and which one an agent gets when it names none. */
export class MemoryBackends {
  constructor(
    private readonly stores: Partial<Record<MemoryBackendKind, MemoryStore>>,
    readonly defaultKind: MemoryBackendKind = stores.postgres && !stores.filesystem
      ? 'postgres'
      : 'filesystem',
  ) {}

  /** The store of `kind` (default: the worker's), or undefined when this worker has none. */
  store(kind: MemoryBackendKind = this.defaultKind): MemoryStore | undefined {
    return this.stores[kind];
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.stores).map((store) => store.close()));
  }
}

/** What the worker's configuration says about memory (see src/config.ts). */
export interface MemoryEnv {
  /** Directory of the filesystem backend. */
  dir: string;
  /** The PostgreSQL backend's connection string. */
  databaseUrl?: string;
  /** The default backend (default: `postgres` when there is a database URL, else `filesystem`). */
  backend?: MemoryBackendKind;
}

/** The backends the configuration gives: always the filesystem one, PostgreSQL with a URL. */
export function memoryBackends(env: MemoryEnv): MemoryBackends {
  if (env.backend === 'postgres' && !env.databaseUrl)
    throw new Error('AGENT_MEMORY_BACKEND=postgres needs AGENT_MEMORY_DATABASE_URL');
  return new MemoryBackends(
    {
      filesystem: new FilesystemMemoryStore({ dir: env.dir }),
      ...(env.databaseUrl && { postgres: new PostgresMemoryStore({ connectionString: env.databaseUrl }) }),
    },
    env.backend ?? (env.databaseUrl ? 'postgres' : 'filesystem'),
  );
}

/**
 * The memory tool of `agent` on `store`. Its approval: the agent's `approval.memory` override when it
 * has one, else `memory.approval` (delete and/or rename wait for an operator; nothing else does).
 */
export function memoryTool(
  agent: AgentDefinition,
  store: MemoryStore,
  override?: ApprovalPolicy<never>,
): OfferedTool {
  const approval = agent.memory?.approval ?? {};
  return {
    name: MEMORY_TOOL_NAME,
    source: 'tool',
    effect: 'write',
    api: { type: MEMORY_TOOL_TYPE, name: MEMORY_TOOL_NAME },
    inputSchema: INPUT_SCHEMA,
    check: (input) => {
      const parsed = MemoryCommandSchema.safeParse(input);
      return parsed.success
        ? { ok: true, value: parsed.data }
        : { ok: false, error: formatIssues(parsed.error) };
    },
    needsApproval: (value) => {
      if (override !== undefined) return approvalRequired(override, value as never);
      const { command } = value as MemoryCommand;
      return (
        (command === 'delete' && approval.delete === true) ||
        (command === 'rename' && approval.rename === true)
      );
    },
    run: async (value, ctx) => {
      const tenant = ctx.tenant ?? DEFAULT_TENANT;
      if (!TENANT_PATTERN.test(tenant))
        throw new MemoryError(`tenant ${JSON.stringify(tenant)} is not a valid name`);
      try {
        return await runMemoryCommand(
          store,
          { agent: agent.name, tenant },
          ctx.idempotencyKey,
          value as MemoryCommand,
        );
      } catch (err) {
        // The model's mistakes are its to read; anything else is the backend's, and retried.
        if (err instanceof MemoryError || err instanceof MemoryUnavailableError) throw err;
        throw new MemoryUnavailableError(
          `memory backend ${store.kind} failed: ${(err as Error)?.message ?? String(err)}`,
        );
      }
    },
  };
}
