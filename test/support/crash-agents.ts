/**
 * The agent module of the crash tests' workers (`AGENT_MODULE`): the built-in tools, for the
 * conversations without an agent, and two agents for the sub-agent crash points. `editor` hands its
 * task to `writer`, which saves it with `save_article` (a write tool: it waits for approval, and its
 * store counts the side effects on disk).
 */
import { defineAgent } from '../../src/agents/define-agent';
import { loadConfig } from '../../src/config';
import { builtinTools } from '../../src/tools/builtin';

/** The agent a crash scenario's conversation talks to, and the one it hands the task to. */
export const PARENT_AGENT = 'editor';
export const CHILD_AGENT = 'writer';

// The same tool instances for the worker and the agent: a worker refuses two tools with one name.
export const tools = builtinTools({ dataDir: loadConfig().dataDir });
const saveArticle = tools.find((tool) => tool.name === 'save_article')!;

export const agents = [
  defineAgent({
    name: PARENT_AGENT,
    description: 'Edits articles; hands the saving to the writer.',
    model: 'claude-sonnet-5-5',
    system: 'You edit articles. Ask the writer to save them.',
    subAgents: [CHILD_AGENT],
  }),
  defineAgent({
    name: CHILD_AGENT,
    description: 'Saves articles. Give it the article.',
    model: 'claude-sonnet-5-5',
    system: 'You save the articles you are given with save_article.',
    tools: [saveArticle],
  }),
];
