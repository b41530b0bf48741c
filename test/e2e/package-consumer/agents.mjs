// This project's agent: a system prompt and one write tool, approved by an operator before it runs.
// The worker loads this module (AGENT_MODULE=./agents.mjs); conversations name the agent: 'notes'.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent, defineTool, IdempotentStore, idempotentWrite } from 'claude-temporal-agent/agents';

const notesDir = process.env.NOTES_DIR ?? 'notes';
const store = new IdempotentStore({ dir: join(notesDir, 'records') });

export const saveNote = defineTool({
  name: 'save_note',
  description: 'Saves a note with a title and a body.',
  input: z.object({ title: z.string().min(1), body: z.string() }),
  effect: 'write', // so it waits for approval
  run: async (input, ctx) => {
    const { result } = await idempotentWrite(store, ctx, async (key) => {
      mkdirSync(notesDir, { recursive: true });
      // The effect: one line per run, which the test counts.
      appendFileSync(join(notesDir, 'effects.log'), `${JSON.stringify({ key, ...input })}\n`);
      return { saved: true, title: input.title };
    });
    return result;
  },
});

export const notes = defineAgent({
  name: 'notes',
  model: 'claude-sonnet-5-5',
  system: 'You keep notes for the team. Save what you are asked to save.',
  tools: [saveNote],
});
