import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ToolDefinition } from '../tools/define-tool';
import type { AgentDefinition } from './define-agent';

/** What a user's agent module gives the worker. */
export interface AgentModule {
  agents: AgentDefinition[];
  tools: ToolDefinition[];
}

/**
 * Loads the user's module of agents and tools (`AGENT_MODULE`). It may export `agents` and `tools`
 * arrays (named, or on its default export), and any agent made with `defineAgent` under any name. A
 * module that does not load, or exports nothing usable, stops the worker with the reason.
 */
export async function loadAgentModule(path: string): Promise<AgentModule> {
  const file = resolve(path);
  let loaded: Record<string, unknown>;
  try {
    loaded = await load(file);
  } catch (err) {
    throw new Error(`AGENT_MODULE ${path}: cannot load it: ${messageOf(err)}`, { cause: err });
  }
  const exports = [loaded, isRecord(loaded.default) ? loaded.default : {}];
  const agents = new Set<AgentDefinition>();
  const tools = new Set<ToolDefinition>();
  for (const scope of exports) {
    for (const [key, value] of Object.entries(scope)) {
      if (key === 'agents' || key === 'tools') {
        if (!Array.isArray(value)) throw new Error(`AGENT_MODULE ${path}: \`${key}\` must be an array`);
        for (const item of value as unknown[]) {
          if (key === 'agents' && isAgent(item)) agents.add(item);
          else if (key === 'tools' && isTool(item)) tools.add(item);
          else {
            throw new Error(
              `AGENT_MODULE ${path}: \`${key}\` holds something that is not ${key === 'agents' ? 'an agent made with defineAgent' : 'a tool made with defineTool'}`,
            );
          }
        }
      } else if (isAgent(value)) agents.add(value);
    }
  }
  if (agents.size === 0 && tools.size === 0) {
    throw new Error(
      `AGENT_MODULE ${path}: it exports no agents or tools (export agents made with defineAgent, or \`agents\` / \`tools\` arrays)`,
    );
  }
  return { agents: [...agents], tools: [...tools] };
}

/**
 * `require` loads CommonJS and ES modules alike (Node 20.19+), and TypeScript under tsx (`npm run
 * worker`). An ES module with top-level await cannot be required: it is imported instead (a real
 * `import()`, which this CommonJS build would otherwise compile into a `require`).
 */
async function load(file: string): Promise<Record<string, unknown>> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
    return require(file) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
    const importModule = new Function('specifier', 'return import(specifier)') as (
      specifier: string,
    ) => Promise<Record<string, unknown>>;
    return importModule(pathToFileURL(file).href);
  }
}

function messageOf(err: unknown): string {
  return isRecord(err) && typeof err.message === 'string' ? err.message : String(err);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isAgent(value: unknown): value is AgentDefinition {
  return isRecord(value) && typeof value.fingerprint === 'string' && typeof value.model === 'string';
}

function isTool(value: unknown): value is ToolDefinition {
  return isRecord(value) && typeof value.toApiTool === 'function' && typeof value.run === 'function';
}
