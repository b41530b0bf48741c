/**
 * The demo's help center: a small MCP server over stdio with one read-only tool, `search_articles`.
 * The worker starts it for the demo agent `support` (src/agents/demo.ts).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const ARTICLES = [
  { id: 'returns', title: 'Returns', text: 'Unused items can be returned within 30 days for a full refund.' },
  {
    id: 'shipping',
    title: 'Shipping',
    text: 'Orders ship within 2 business days; delivery takes 3 to 5 days.',
  },
  { id: 'warranty', title: 'Warranty', text: 'Footwear and tents carry a 2-year warranty against defects.' },
];

const server = new McpServer({ name: 'help-center', version: '1.0.0' });
server.registerTool(
  'search_articles',
  {
    description: 'Search the help center articles (returns, shipping, warranty).',
    inputSchema: { query: z.string().describe('What to look for') },
    annotations: { readOnlyHint: true },
  },
  ({ query }) => {
    const words = query.toLowerCase().split(/\W+/).filter(Boolean);
    const hits = ARTICLES.filter((a) => words.some((w) => `${a.title} ${a.text}`.toLowerCase().includes(w)));
    const found = hits.length > 0 ? hits : ARTICLES;
    return { content: found.map((a) => ({ type: 'text' as const, text: `${a.title}: ${a.text}` })) };
  },
);

void server.connect(new StdioServerTransport());
