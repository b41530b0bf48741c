import { extname, join } from 'node:path';
import { z } from 'zod';
import { defineTool, type ToolDefinition } from '../tools/define-tool';
import { getWeather } from '../tools/get-weather';
import { IdempotentStore, keyHash } from '../tools/idempotent-write';
import { defineAgent, type AgentDefinition } from './define-agent';

/** Orders the demo knows (no network here, and tests need stable answers). */
const ORDERS: Record<string, { item: string; amount: number; status: string }> = {
  A1: { item: 'Trail running shoes', amount: 129, status: 'delivered' },
  A2: { item: 'Rain jacket', amount: 89.5, status: 'delivered' },
  A3: { item: 'Camping stove', amount: 45, status: 'in transit' },
  A4: { item: 'Tent, 2 persons', amount: 349, status: 'delivered' },
};

export const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look up an order by its id (e.g. A1): item, amount in USD, delivery status.',
  input: z.object({ orderId: z.string().min(1).describe('The order id, e.g. A1') }),
  effect: 'read',
  async run({ orderId }) {
    const order = ORDERS[orderId.trim().toUpperCase()];
    if (!order) throw new Error(`no order ${orderId} (known: ${Object.keys(ORDERS).join(', ')})`);
    return { orderId: orderId.trim().toUpperCase(), ...order };
  },
});

// The examples are what the demo model (no API key) fills in: a refund that needs approval.
const refundInput = z.object({
  orderId: z
    .string()
    .min(1)
    .describe('The order id, e.g. A1')
    .meta({ examples: ['A4'] }),
  amount: z
    .number()
    .positive()
    .describe('Amount to refund, in USD')
    .meta({ examples: [349] }),
  reason: z
    .string()
    .min(1)
    .describe('Why the customer gets a refund')
    .meta({ examples: ['The tent arrived torn'] }),
});

/** Refunds over this many dollars wait for an operator's approval. */
export const REFUND_APPROVAL_ABOVE_USD = 100;

/** A write tool: refunds are recorded once per call (idempotency key), whatever retries happen. */
export function createRefundTool(options: { dataDir: string }): ToolDefinition<typeof refundInput> {
  const store = new IdempotentStore({ dir: join(options.dataDir, 'refunds') });
  return defineTool({
    name: 'refund',
    description: `Refund (part of) an order to the customer. Refunds over $${REFUND_APPROVAL_ABOVE_USD} need an operator's approval.`,
    input: refundInput,
    effect: 'write',
    approval: ({ amount }) => amount > REFUND_APPROVAL_ABOVE_USD,
    async run({ orderId, amount, reason }, ctx) {
      const { result } = await store.once(ctx.idempotencyKey, async () => ({
        refundId: `rf_${keyHash(ctx.idempotencyKey).slice(0, 12)}`,
        orderId,
        amount,
        reason,
        at: new Date().toISOString(),
      }));
      return { refunded: true, ...result };
    },
  });
}

/** How the worker starts the demo's help-center MCP server: this Node, the same loader (tsx from src). */
function helpCenterServer() {
  const file = join(__dirname, `demo-help-center${extname(__filename)}`);
  return {
    name: 'help',
    transport: 'stdio' as const,
    command: process.execPath,
    args: [...process.execArgv, file],
  };
}

/**
 * The demo agents `npm start` serves (the default without `AGENT_MODULE`): `support`, a customer
 * support agent with a read tool, a refund tool that needs approval over $100, and the help center's
 * articles from an MCP server; and `weather`, which `support` can hand a question to (a sub-agent).
 */
export function demoAgents(options: { dataDir: string }): AgentDefinition[] {
  const weather = defineAgent({
    name: 'weather',
    description: 'Answers questions about the weather somewhere. Give it the place.',
    model: 'claude-sonnet-5-5',
    system: 'You answer questions about the weather, using get_weather. Be brief.',
    tools: [getWeather],
  });
  const support = defineAgent({
    name: 'support',
    description: 'Customer support for an outdoor gear shop: orders, refunds, help articles.',
    model: 'claude-sonnet-5-5',
    system:
      'You are the support agent of an outdoor gear shop. Look orders up before acting on them. ' +
      'Refund only what the customer paid. Quote help-center articles when they answer the question.',
    tools: [lookupOrder, createRefundTool(options)],
    mcpServers: [helpCenterServer()],
    subAgents: ['weather'],
  });
  return [support, weather];
}
