/**
 * The sub-agent conversations one conversation started (the newest 100, kept in its state) and the
 * calls still at work, each in its own cancellation scope so that ending the conversation stops them.
 */
import type { CancellationScope } from '@temporalio/workflow';
import type { SubAgentRun } from '../../api/agents';
import type { UsageTotals } from '../../api/conversation';

export class SubAgentRuns {
  private readonly list: SubAgentRun[];
  /** Sub-agent calls in flight, by tool_use_id. */
  private readonly scopes = new Map<string, CancellationScope>();

  constructor(carried?: SubAgentRun[]) {
    this.list = carried ?? [];
  }

  get runs(): readonly SubAgentRun[] {
    return this.list;
  }

  /** Whether a sub-agent is at work. */
  get working(): boolean {
    return this.scopes.size > 0;
  }

  find(toolUseId: unknown): SubAgentRun | undefined {
    return this.list.find((r) => r.toolUseId === toolUseId);
  }

  /**
   * A sub-agent conversation started or ended. Answers its usage when this is the first time it is
   * known (its result, or its report when it was stopped), for the totals.
   */
  track(run: SubAgentRun): UsageTotals | undefined {
    const index = this.list.findIndex((r) => r.toolUseId === run.toolUseId);
    const known = index >= 0 ? this.list[index] : undefined;
    const merged = { ...known, ...run, ...(known?.usage && { usage: known.usage }) };
    if (index >= 0) this.list[index] = merged;
    else this.list.push(merged);
    if (this.list.length > 100) this.list.shift();
    return run.usage && !known?.usage ? run.usage : undefined;
  }

  /** A call's child conversation runs in `scope` until {@link ended}. */
  started(toolUseId: string, scope: CancellationScope): void {
    this.scopes.set(toolUseId, scope);
  }

  ended(toolUseId: string): void {
    this.scopes.delete(toolUseId);
  }

  /** Stops every sub-agent at work (the conversation is ending). */
  stopAll(): void {
    for (const scope of this.scopes.values()) scope.cancel();
  }
}
