/**
 * What a conversation carries across continue-as-new: each part's snapshot, composed into one wire
 * shape. The shape is the one runs started by earlier code carried, field for field (they continue into
 * this code, and this code's runs into theirs on a rollback), so parts are added as optional fields.
 */
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import type { AgentView, SubAgentRun } from '../../api/agents';
import type { RefusedDecision } from '../../api/approvals';
import type { Budget, LastStop, MessageMeta, UsageTotals } from '../../api/conversation';
import type { StructuredOutput } from '../../api/structured-output';
import type { ApprovalBook } from '../approvals';
import type { AgentListing } from './agent-listing';
import type { CodeContainer, ContainerRef } from './code-container';
import type { CarriedCompaction, CompactionState } from './compaction-state';
import type { Inbox, QueuedMessage } from './inbox';
import type { Spend } from './spend';
import type { SubAgentRuns } from './sub-agent-runs';
import type { Transcript } from './transcript';

/** What a conversation carries across continue-as-new: the parts' snapshots, in one wire shape. */
export interface CarriedState {
  messages: MessageParam[];
  meta: MessageMeta[];
  digests: string[];
  turn: number;
  queue: QueuedMessage[];
  usage: UsageTotals;
  lastStop?: LastStop;
  generation: number;
  startedAt: string;
  approvals: ReturnType<ApprovalBook['snapshot']>;
  refusedDecisions: RefusedDecision[];
  /** Agent conversations: the fingerprint changes seen so far. */
  agentChanges?: AgentView['changes'];
  /** The fingerprint the last model call used. */
  agentFingerprint?: string;
  /** Budget ceilings an operator set (`raiseBudget`). */
  budgetOverride?: Budget;
  subAgents?: SubAgentRun[];
  /** Compaction: where this run's transcript starts in the whole one, and what came before. */
  compaction?: CarriedCompaction;
  /** The last turn's structured output. */
  output?: StructuredOutput;
  /** The code execution container of the last answer that ran in one. */
  container?: ContainerRef;
}

/** The parts of a conversation that continue-as-new carries. */
export interface CarriedParts {
  readonly transcript: Transcript;
  readonly inbox: Inbox;
  readonly spend: Spend;
  readonly compactions: CompactionState;
  readonly approvals: ApprovalBook;
  readonly agentListing: AgentListing;
  readonly agent: AgentView | undefined;
  readonly subAgents: SubAgentRuns;
  readonly container: CodeContainer;
  readonly lastStop: LastStop | undefined;
  readonly output: StructuredOutput | undefined;
  readonly generation: number;
  readonly startedAt: string;
}

/** What the run `runId` of a conversation hands the next one. */
export function carriedState(parts: CarriedParts, runId: string): CarriedState {
  // After a compaction the next run starts at its message: what it summarized stays in this run.
  const start = parts.compactions.promptFrom;
  const compaction = parts.compactions.snapshot(start, runId);
  const { usage, budgetOverride } = parts.spend.snapshot();
  const container = parts.container.current;
  return {
    ...parts.transcript.snapshot(start),
    ...parts.inbox.snapshot(),
    usage,
    lastStop: parts.lastStop,
    generation: parts.generation + 1,
    startedAt: parts.startedAt,
    approvals: parts.approvals.snapshot(),
    refusedDecisions: parts.approvals.refused,
    ...(parts.agent && parts.agentListing.snapshot()),
    ...(parts.subAgents.runs.length > 0 && { subAgents: [...parts.subAgents.runs] }),
    ...(budgetOverride && { budgetOverride }),
    ...(compaction && { compaction }),
    ...(parts.output && { output: parts.output }),
    ...(container && { container }),
  };
}
