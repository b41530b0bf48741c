import type { ToolDefinition } from './define-tool';

/** The tools a worker can run, by name. */
export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();

  constructor(tools: Iterable<ToolDefinition> = []) {
    for (const tool of tools) this.add(tool);
  }

  /** Adds a tool; a second tool with the same name is a configuration error. */
  add(tool: ToolDefinition): this {
    if (this.tools.has(tool.name)) throw new Error(`tool ${tool.name} is defined twice`);
    this.tools.set(tool.name, tool);
    return this;
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name);
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  /** The named tools, in the given order; throws naming every unknown one. */
  resolve(names: readonly string[]): ToolDefinition[] {
    const unknown = names.filter((n) => !this.tools.has(n));
    if (unknown.length > 0) {
      throw new Error(
        `unknown tool${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (this worker has: ${this.names().join(', ') || 'none'})`,
      );
    }
    return names.map((n) => this.tools.get(n)!);
  }
}
