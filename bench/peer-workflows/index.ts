/**
 * The benchmark's durable peer: the weather conversation written the way a user of Temporal's AI SDK
 * integration (`@temporalio/ai-sdk`) writes it. `generateText` runs in the workflow; the plugin turns
 * each model call into an activity, and the tool's `execute` is an activity of ours. The workflow keeps
 * the conversation as the AI SDK's message list and hands all of it to `generateText` every turn.
 */
import { temporalProvider } from '@temporalio/ai-sdk/workflow';
import {
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { generateText, isStepCount, tool, type ModelMessage } from 'ai';
import { z } from 'zod';
import { CONVERSATION_ID_HEADER } from '../../src/api/wire';
import type { peerActivities } from '../peer';

/** What {@link peerStateQuery} answers. */
export interface PeerState {
  /** Turns answered so far. */
  turn: number;
  /** True while a user message waits or a turn is under way. */
  busy: boolean;
  /** The last turn's final answer. */
  answer?: string;
}

export interface PeerConversationInput {
  model: string;
  message: string;
}

/** The next user message; accepted at once, answered by a later turn (as our `sendMessageUpdate`). */
export const userMessageUpdate = defineUpdate<void, [string]>('userMessage');
export const peerStateQuery = defineQuery<PeerState>('peerState');
/** Ends the conversation once the waiting messages are answered. */
export const endSignal = defineSignal('end');

const { getWeather } = proxyActivities<typeof peerActivities>({ startToCloseTimeout: '1 minute' });

export async function peerConversationWorkflow(input: PeerConversationInput): Promise<void> {
  const messages: ModelMessage[] = [];
  const inbox = [input.message];
  const state: PeerState = { turn: 0, busy: true };
  let ended = false;
  setHandler(userMessageUpdate, (text) => {
    inbox.push(text);
    state.busy = true;
  });
  setHandler(peerStateQuery, () => state);
  setHandler(endSignal, () => {
    ended = true;
  });

  for (;;) {
    await condition(() => inbox.length > 0 || ended);
    if (inbox.length === 0) return;
    messages.push({ role: 'user', content: inbox.shift()! });
    const result = await generateText({
      model: temporalProvider.languageModel(input.model),
      messages,
      tools: {
        get_weather: tool({
          description: 'Current weather for a city',
          inputSchema: z.object({ location: z.string() }),
          execute: getWeather,
        }),
      },
      stopWhen: isStepCount(5),
      // Lets the fake Messages API tell conversations apart, as our worker's requests do.
      headers: { [CONVERSATION_ID_HEADER]: workflowInfo().workflowId },
    });
    messages.push(...result.responseMessages);
    state.turn++;
    state.answer = result.text;
    state.busy = inbox.length > 0;
  }
}
