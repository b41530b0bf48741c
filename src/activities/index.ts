import type Anthropic from '@anthropic-ai/sdk';
import { getClient } from '@temporalio/activity';
import { messagesQuery } from '../api/conversation';
import type { AgentTools } from '../agents/agent-tools';
import { createCallClaude, type StreamObserver } from './call-claude';
import { DEFAULT_PRICES, type PriceTable } from './pricing';
import { createPrepareAgent } from './prepare-agent';
import { createRunTool } from './run-tool';
import { createNotify } from '../notify/deliver';
import type { WebhookConfig } from '../notify/config';
import { TranscriptCache, type TranscriptReader } from './transcript-cache';

/** What the activities need from the worker. */
export interface ActivityDeps {
  /** An SDK client built with `maxRetries: 0`: Temporal owns retries. */
  anthropic: Anthropic;
  /** The worker's agents and tools. */
  agents: AgentTools;
  /** Reads transcript ranges from workflows; default: a query through the worker's own client. */
  readTranscript?: TranscriptReader;
  /** Bytes of transcripts the worker keeps in memory (default 128 MiB). */
  transcriptCacheBytes?: number;
  /** The live side channel for model streams. */
  observer?: StreamObserver;
  /** Longest tool output sent to the model, in characters. */
  maxToolOutputChars?: number;
  /** Model prices for the cost of each call (default: {@link DEFAULT_PRICES}). */
  prices?: PriceTable;
  /** Where `notify` sends webhooks (src/notify); unset: it does nothing. */
  notifications?: WebhookConfig;
}

/** Reads a transcript range with the `messages` query, through the worker's connection. */
const queryTranscript: TranscriptReader = (workflowId, from, to) =>
  getClient().workflow.getHandle(workflowId).query(messagesQuery, { from, to });

/** Builds the activities with their dependencies (tests inject fakes). */
export function createActivities(deps: ActivityDeps) {
  const transcripts = new TranscriptCache(deps.readTranscript ?? queryTranscript, deps.transcriptCacheBytes);
  return {
    callClaude: createCallClaude({
      anthropic: deps.anthropic,
      agents: deps.agents,
      transcripts,
      observer: deps.observer,
      prices: deps.prices ?? DEFAULT_PRICES,
    }),
    prepareAgent: createPrepareAgent(deps.agents),
    runTool: createRunTool({
      agents: deps.agents,
      maxOutputChars: deps.maxToolOutputChars,
    }),
    notify: createNotify(deps.notifications),
  };
}

/** The activities' types, for `proxyActivities` in workflow code (import it as a type only). */
export type Activities = ReturnType<typeof createActivities>;
