/**
 * What a conversation spent (tokens and cost of every model call, its sub-agents' included) and the
 * ceilings an operator raised over the input's and the agent's budget.
 */
import { EMPTY_USAGE, USAGE_FIELDS, type Budget, type UsageTotals } from '../../api/conversation';
import type { CallClaudeResult } from '../../api/activity-contract';

/** What continue-as-new carries of the spend. */
export interface CarriedSpend {
  usage: UsageTotals;
  budgetOverride?: Budget;
}

export class Spend {
  private readonly totals: UsageTotals;
  /** Budget ceilings an operator set, over the input's and the agent's. */
  private raised: Budget | undefined;

  constructor(carried?: Partial<CarriedSpend>) {
    // Spread over the defaults: a run continued from an older version carries fewer fields.
    this.totals = { ...EMPTY_USAGE, ...carried?.usage };
    this.raised = carried?.budgetOverride;
  }

  get usage(): UsageTotals {
    return this.totals;
  }

  /** The budget: `base` (the agent's under the conversation's own) under an operator's raise. */
  budget(base: Budget): Budget | undefined {
    const budget = { ...base, ...this.raised };
    return budget.usd === undefined && budget.tokens === undefined ? undefined : budget;
  }

  /** An operator's new ceilings, over the ones raised before. */
  raise(ceilings: Budget): void {
    this.raised = { ...this.raised, ...ceilings };
  }

  /** Adds a call's tokens and cost to the totals (also for an answer that is dropped and retried). */
  count({ usage }: CallClaudeResult): void {
    const totals = this.totals;
    totals.calls++;
    totals.inputTokens += usage.inputTokens;
    totals.outputTokens += usage.outputTokens;
    totals.cacheCreationInputTokens += usage.cacheCreationInputTokens;
    totals.cacheReadInputTokens += usage.cacheReadInputTokens;
    if (usage.costUsd === undefined) totals.unpricedCalls++;
    // Rounded to micro-dollars so the sum of many calls does not drift into float noise.
    else totals.costUsd = Math.round((totals.costUsd + usage.costUsd) * 1e6) / 1e6;
  }

  /** A sub-agent's usage joins the totals (its own sub-agents' included). */
  add(usage: UsageTotals): void {
    for (const key of USAGE_FIELDS) if (key !== 'costUsd') this.totals[key] += usage[key] ?? 0;
    this.totals.costUsd = Math.round((this.totals.costUsd + (usage.costUsd ?? 0)) * 1e6) / 1e6;
  }

  snapshot(): CarriedSpend {
    return { usage: this.totals, ...(this.raised && { budgetOverride: this.raised }) };
  }
}
