import { ToolRegistry } from '../tools/registry';
import type { ToolDefinition } from '../tools/define-tool';
import type { AgentDefinition } from './define-agent';

/**
 * The agents a worker serves, and every tool it can run. Built once at worker start; a configuration
 * mistake (two agents or two different tools with one name, a sub-agent nobody defines) stops the
 * worker there, saying which, instead of failing conversations later.
 */
export class AgentRegistry {
  private readonly agents = new Map<string, AgentDefinition>();
  /**
   * The worker's own tools: what a conversation without an agent may name. An agent's tools are its
   * own (an ad-hoc conversation cannot reach them, or bypass the agent's approval rules).
   */
  readonly tools: ToolRegistry;

  constructor(agents: readonly AgentDefinition[] = [], tools: readonly ToolDefinition[] = []) {
    for (const agent of agents) {
      if (this.agents.has(agent.name)) throw new Error(`agent ${agent.name} is defined twice`);
      this.agents.set(agent.name, agent);
    }
    const byName = new Map<string, { tool: ToolDefinition; owner: string }>();
    const add = (tool: ToolDefinition, owner: string) => {
      const known = byName.get(tool.name);
      if (known && known.tool !== tool) {
        throw new Error(
          `two different tools are named ${tool.name} (${known.owner} and ${owner}); tool names are unique on a worker`,
        );
      }
      byName.set(tool.name, { tool, owner });
    };
    for (const tool of tools) add(tool, 'the worker');
    for (const agent of agents) for (const tool of agent.tools) add(tool, `agent ${agent.name}`);
    this.tools = new ToolRegistry(tools);
    for (const agent of agents) {
      for (const sub of agent.subAgents) {
        if (!this.agents.has(sub)) {
          throw new Error(
            `agent ${agent.name}: sub-agent ${sub} is not defined (this worker has: ${this.names().join(', ')})`,
          );
        }
        if (agent.tools.some((t) => t.name === sub)) {
          throw new Error(`agent ${agent.name}: ${sub} is both a tool and a sub-agent`);
        }
      }
    }
  }

  get(name: string): AgentDefinition | undefined {
    return this.agents.get(name);
  }

  names(): string[] {
    return [...this.agents.keys()];
  }

  /** The agent, or an error that names the agents this worker serves. */
  resolve(name: string): AgentDefinition {
    const agent = this.agents.get(name);
    if (!agent) {
      const served = this.names();
      throw new Error(
        `unknown agent ${JSON.stringify(name)}: ${served.length > 0 ? `the workers serve ${served.join(', ')}` : 'the workers serve no agents'}`,
      );
    }
    return agent;
  }
}
