/**
 * The agent contract between the workflow, the worker and clients: what the worker tells a conversation
 * about its agent, and how a conversation of a sub-agent is linked to its parent. Workflow-safe.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Budget, CompactionConfig, Limits, UsageTotals } from './limits';
import type { ToolEffect } from './tools';

/** The rule for an agent's name (the same as a tool's: a sub-agent is offered as a tool by this name). */
export const AGENT_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** Failure type of a conversation that names an agent no worker serves. */
export const UNKNOWN_AGENT = 'UnknownAgent';
/**
 * Failure type of a call that names an agent this worker does not serve: retried, since in a rolling
 * deploy another worker (or a newer one) may serve it.
 */
export const AGENT_NOT_SERVED = 'AgentNotServed';

/** Where a tool of an agent comes from. */
export type AgentToolSource = 'tool' | 'mcp' | 'agent';

/** One tool an agent offers in a run, as the worker listed it. */
export interface AgentToolInfo {
  /** The API name (MCP tools: `server__tool`). */
  name: string;
  source: AgentToolSource;
  effect?: ToolEffect;
  /** MCP tools: the server's name. */
  server?: string;
}

/**
 * An agent as a conversation's run sees it: listed by the `prepareAgent` activity at the start of each
 * run (the conversation's start and every continue-as-new), so the tool set is in history and replays.
 * The prompt is not here: the model-call activity reads it from the worker's definition at each call
 * and records the fingerprint it used.
 */
export interface AgentSnapshot {
  name: string;
  fingerprint: string;
  description?: string;
  model: string;
  maxTokens: number;
  promptCaching: '5m' | '1h' | 'off';
  limits?: Limits;
  /** The agent's budget for each of its conversations (a conversation's own wins). */
  budget?: Budget;
  /** The agent's compaction settings (a conversation's own win, field by field). */
  compaction?: CompactionConfig;
  maxSubAgentDepth: number;
  tools: AgentToolInfo[];
  /** MCP servers that could not be listed (their tools are missing from this run), with why. */
  unavailable?: Array<{ server: string; error: string }>;
}

export interface PrepareAgentInput {
  workflowId: string;
  agent: string;
}

/** The agent fields of a conversation's state. */
export interface AgentView {
  name: string;
  /** The fingerprint of the definition the latest model call used (or the run's listing, before one). */
  fingerprint: string;
  /** Earlier fingerprints this conversation ran with, oldest first (a deploy changed the agent). */
  changes: Array<{ from: string; to: string; at: string; turn: number }>;
  tools: AgentToolInfo[];
  unavailable?: AgentSnapshot['unavailable'];
}

/** How a sub-agent's conversation is tied to the conversation that called it. */
export interface ParentLink {
  workflowId: string;
  toolUseId: string;
  agent: string;
  /** 1 for a sub-agent of a top-level conversation. */
  depth: number;
  /** Agents from the top-level conversation down to the parent, to refuse cycles. */
  ancestry: string[];
}

/** A sub-agent conversation started by a tool call, as the parent's state lists it. */
export interface SubAgentRun {
  toolUseId: string;
  workflowId: string;
  agent: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  startedAt: string;
  endedAt?: string;
  /** Its tokens and cost (its own sub-agents' included), once it ended; added to the parent's totals. */
  usage?: UsageTotals;
}

/** What a sub-agent tool takes from the model. */
export interface SubAgentToolInput {
  task: string;
}

/** The JSON Schema of a sub-agent tool's input. */
export const SUB_AGENT_INPUT_SCHEMA = {
  type: 'object',
  properties: {
    task: {
      type: 'string',
      description:
        'The task for this agent, with everything it needs to know: it does not see this conversation.',
    },
  },
  required: ['task'],
  additionalProperties: false,
} as const;

/**
 * Answers once the worker has listed the conversation's agent: its name, fingerprint and tools; fails
 * with the worker's reason (e.g. an unknown agent, naming the agents it serves). Clients call it right
 * after starting a conversation with an agent, so a mistake is an error at start, not a failed run later.
 */
export const agentReadyUpdate = defineUpdate<AgentView, []>('agentReady');

/**
 * A sub-agent's conversation that was stopped (cancelled: its parent ended or was cancelled) tells its
 * parent what it spent before it closes, since a cancelled run returns no result.
 */
export const subAgentUsageSignal = defineSignal<[{ toolUseId: string; usage: UsageTotals }]>('subAgentUsage');
