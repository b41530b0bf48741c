// agents.mjs: a note-taking agent with one write tool, run once per call, approved by an operator.
import { appendFile, mkdir } from 'node:fs/promises';
import { z } from 'zod';
import { defineAgent, defineTool, IdempotentStore, idempotentWrite } from 'claude-temporal-agent/agents';

const store = new IdempotentStore({ dir: 'notes/records' });
export const saveNote = defineTool({
  name: 'save_note',
  description: 'Saves a note with a title and a body.',
  input: z.object({ title: z.string().min(1), body: z.string() }),
  effect: 'write', // write tools wait for approval (approval: 'never' | 'always' | (input) => boolean)
  run: async (input, ctx) => {
    const { result } = await idempotentWrite(store, ctx, async () => {
      await mkdir('notes', { recursive: true });
      await appendFile('notes/notes.log', `${JSON.stringify(input)}\n`);
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
