/**
 * An agent's conversation: the agent as a worker listed it for this run (its model, limits, tools),
 * the definition the last model call used (its fingerprint) and the changes of definition seen so far
 * (a deploy), the newest 20.
 */
import type { AgentSnapshot, AgentView } from '../../api/agents';
import { nowIso } from '../clock';

/** What continue-as-new carries of the agent (agent conversations only). */
export interface CarriedAgent {
  agentChanges?: AgentView['changes'];
  agentFingerprint?: string;
}

export class AgentListing {
  private readonly changes: AgentView['changes'];
  private fingerprint: string | undefined;
  private listed: AgentSnapshot | undefined;
  private shown: AgentView | undefined;

  constructor(carried?: CarriedAgent) {
    this.changes = carried?.agentChanges ?? [];
    this.fingerprint = carried?.agentFingerprint;
  }

  /** The agent's listing for this run. */
  get current(): AgentSnapshot | undefined {
    return this.listed;
  }

  /** The agent as the state shows it. */
  get view(): AgentView | undefined {
    return this.shown;
  }

  /** The worker listed the agent for this run. */
  listedAs(snapshot: AgentSnapshot): void {
    this.listed = snapshot;
    this.shown = {
      name: snapshot.name,
      fingerprint: this.fingerprint ?? snapshot.fingerprint,
      changes: this.changes,
      tools: snapshot.tools,
      ...(snapshot.unavailable && { unavailable: snapshot.unavailable }),
    };
  }

  /** A model call used this definition of the agent (in `turn`): a change is kept. */
  used(fingerprint: string, turn: number): void {
    const previous = this.fingerprint ?? this.listed?.fingerprint;
    this.fingerprint = fingerprint;
    if (this.shown) this.shown.fingerprint = fingerprint;
    if (previous === undefined || previous === fingerprint) return;
    this.changes.push({ from: previous, to: fingerprint, at: nowIso(), turn });
    if (this.changes.length > 20) this.changes.shift();
  }

  snapshot(): CarriedAgent {
    return { agentChanges: this.changes, agentFingerprint: this.fingerprint };
  }
}
