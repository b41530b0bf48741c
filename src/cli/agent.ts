#!/usr/bin/env node
/**
 * `npm run agent -- <command>`: conversations from the command line.
 *
 *   start <prompt> [--tools a,b] [--system S] [--model M] [--single-turn] [--id ID] [--max-turns N] [--wait]
 *   send <workflowId> <message>
 *   show <workflowId>
 *   list [--status S] [--limit N]
 *   watch <workflowId>                  (live model stream; OPS_URL, OPS_TOKEN)
 *   pending
 *   approve <workflowId> <toolUseId> [--input JSON] [--reason R] [--by NAME]
 *   reject <workflowId> <toolUseId> --reason R [--by NAME]
 *   resume <workflowId> [--note N]      end <workflowId> [--reason R]      cancel <workflowId>
 *
 * Every command takes --json (machine-readable output on stdout). Exit codes: 0 done, 1 failed,
 * 2 bad usage, 3 refused by the conversation, 4 no such conversation, 5 Temporal or worker unreachable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConversationState, ConversationStatus } from '../api/conversation';
import { AgentClient, AgentError } from '../client';
import { loadConfig, type Config } from '../config';
import { watch } from './watch';

const EXIT: Record<AgentError['code'] | 'usage' | 'failed', number> = {
  failed: 1,
  usage: 2,
  invalid: 2,
  refused: 3,
  not_found: 4,
  unavailable: 5,
  no_worker: 5,
};

class UsageError extends Error {}

const OPTIONS = {
  json: { type: 'boolean', default: false },
  tools: { type: 'string' },
  system: { type: 'string' },
  model: { type: 'string' },
  id: { type: 'string' },
  'single-turn': { type: 'boolean', default: false },
  'max-turns': { type: 'string' },
  'max-tokens': { type: 'string' },
  wait: { type: 'boolean', default: false },
  status: { type: 'string' },
  limit: { type: 'string' },
  input: { type: 'string' },
  reason: { type: 'string' },
  note: { type: 'string' },
  by: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : EXIT.usage;
  }
  const config = loadConfig();
  const agent = await AgentClient.fromConfig(config);
  const by = values.by ?? `${userInfo().username}@cli`;
  const out = (json: unknown, text: string) =>
    console.log(values.json ? JSON.stringify(json, null, 2) : text);
  try {
    switch (command) {
      case 'start': {
        const prompt = need(args, 0, 'start <prompt>');
        const started = await agent.startConversation(
          {
            model: values.model ?? config.AGENT_MODEL,
            message: prompt,
            tools: values.tools
              ? values.tools
                  .split(',')
                  .map((t) => t.trim())
                  .filter(Boolean)
              : [],
            ...(values.system && { system: values.system }),
            singleTurn: values['single-turn'],
            ...(values['max-tokens'] && { maxTokens: int(values['max-tokens'], '--max-tokens') }),
            limits: values['max-turns'] ? { maxTurns: int(values['max-turns'], '--max-turns') } : {},
          },
          { workflowId: values.id },
        );
        if (!values.wait) {
          out(started, `started ${started.workflowId}`);
          return 0;
        }
        // --wait: stream the answer live (if the ops server is reachable), then print the outcome.
        if (!values.json) console.error(`agent: started ${started.workflowId}`);
        const handle = agent.client.workflow.getHandle(started.workflowId);
        const result = handle.result();
        await watchConversation(
          agent,
          config,
          started.workflowId,
          values.json,
          result.then(() => undefined),
        ).catch((err: unknown) => {
          console.error(`agent: no live stream (${(err as Error).message}); waiting for the answer`);
        });
        const final = await result;
        out(
          { workflowId: started.workflowId, ...final },
          `\n${final.lastText}\n[${final.status}: ${final.endReason}]`,
        );
        return 0;
      }
      case 'send': {
        const result = await agent.sendMessage(
          need(args, 0, 'send <workflowId> <message>'),
          need(args, 1, 'send <workflowId> <message>'),
        );
        out(
          result,
          `turn ${result.turn}${result.queuedBehind ? ` (queued behind ${result.queuedBehind})` : ''}`,
        );
        return 0;
      }
      case 'show': {
        const state = await agent.getState(need(args, 0, 'show <workflowId>'));
        out(state, renderState(state));
        return 0;
      }
      case 'list': {
        const rows = await agent.listConversations({
          status: values.status as ConversationStatus | undefined,
          limit: values.limit ? int(values.limit, '--limit') : 50,
        });
        out(
          rows,
          rows
            .map(
              (r) =>
                `${r.workflowId}  ${r.status.padEnd(17)} ${r.model ?? ''}  ${r.lastActivity ?? ''}${r.pendingApprovals ? `  pending ${r.pendingApprovals}` : ''}`,
            )
            .join('\n') || 'no conversations',
        );
        return 0;
      }
      case 'pending': {
        const items = await agent.listPendingApprovals();
        out(
          items,
          items
            .map(
              (p) =>
                `${p.workflowId}  ${p.toolUseId}  ${p.name}  requested ${p.requestedAt}  deadline ${p.deadline}\n  ${JSON.stringify(p.input)}`,
            )
            .join('\n') || 'no tool calls waiting for approval',
        );
        return 0;
      }
      case 'approve':
      case 'reject': {
        const usage = `${command} <workflowId> <toolUseId>${command === 'reject' ? ' --reason R' : ' [--input JSON]'}`;
        const [workflowId, toolUseId] = [need(args, 0, usage), need(args, 1, usage)];
        if (command === 'reject' && !values.reason)
          throw new UsageError('reject needs --reason (the model is told why)');
        const input = values.input !== undefined ? parseJsonObject(values.input) : undefined;
        const decision = command === 'reject' ? 'reject' : input ? 'edit' : 'approve';
        const [recorded] = await agent.decide(workflowId, {
          toolUseId,
          decision,
          ...(input && { input }),
          ...(values.reason && { reason: values.reason }),
          decidedBy: by,
        });
        out(
          recorded,
          `${recorded.decision} of ${recorded.toolUseId} (${recorded.name}) recorded, by ${recorded.decidedBy} at ${recorded.decidedAt}`,
        );
        return 0;
      }
      case 'resume': {
        const status = await agent.resume(need(args, 0, 'resume <workflowId>'), by, values.note);
        out({ status }, `resumed: ${status}`);
        return 0;
      }
      case 'end': {
        const status = await agent.end(need(args, 0, 'end <workflowId>'), by, values.reason);
        out({ status }, `ended: ${status}`);
        return 0;
      }
      case 'watch': {
        const workflowId = need(args, 0, 'watch <workflowId>');
        await watchConversation(agent, config, workflowId, values.json);
        return 0;
      }
      case 'cancel': {
        await agent.cancel(need(args, 0, 'cancel <workflowId>'));
        out({ cancelled: true }, 'cancellation requested');
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}\n${USAGE}`);
    }
  } finally {
    await agent.client.connection.close();
  }

  function need(list: string[], index: number, usage: string): string {
    const value = list[index];
    if (!value) throw new UsageError(`usage: agent ${usage}`);
    return value;
  }
}

/** Streams the conversation live until it closes (or Ctrl-C). */
async function watchConversation(
  agent: AgentClient,
  config: Config,
  workflowId: string,
  json: boolean,
  until?: Promise<void>,
): Promise<void> {
  const description = await agent.client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => {
      throw new AgentError('not_found', `no conversation with id ${workflowId}`);
    });
  const url = config.OPS_URL ?? `http://${config.OPS_HOST}:${config.OPS_PORT}`;
  const tokenFile = resolve('.data', 'ops-token');
  const token =
    config.OPS_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  if (!token) throw new UsageError('watch needs OPS_TOKEN (npm start keeps it in .data/ops-token)');
  if (description.status.name !== 'RUNNING')
    console.error(
      `agent: ${workflowId} is ${description.status.name.toLowerCase()}; showing its last live state`,
    );
  const closed = (async () => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const status = await agent.client.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          (d) => d.status.name,
          () => 'UNKNOWN',
        );
      if (status !== 'RUNNING') return;
    }
  })();
  await watch({
    url,
    token,
    workflowId,
    json,
    write: (text) => process.stdout.write(text),
    until: until ?? (description.status.name === 'RUNNING' ? closed : new Promise((r) => setTimeout(r, 500))),
  });
  if (!json) process.stdout.write('\n');
}

function int(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return n;
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new UsageError('--input must be a JSON object');
  return value as Record<string, unknown>;
}

function renderState(state: ConversationState): string {
  const lines = [
    `status: ${state.status}${state.attention ? ` (${state.attention.reason}: ${state.attention.message})` : ''}`,
    `model: ${state.model}  turn: ${state.turn}  tokens in/out: ${state.usage.inputTokens}/${state.usage.outputTokens}`,
  ];
  for (const message of state.messages) {
    const blocks =
      typeof message.content === 'string'
        ? [{ type: 'text', text: message.content }]
        : (message.content as unknown as Array<Record<string, unknown>>);
    for (const b of blocks) {
      if (b.type === 'text') lines.push(`${message.role}: ${String(b.text)}`);
      else if (b.type === 'tool_use')
        lines.push(`${message.role}: >>> Tool Call: ${JSON.stringify(b.name)} ${JSON.stringify(b.input)}`);
      else if (b.type === 'tool_result')
        lines.push(
          `${message.role}: <<< Tool Result${b.is_error ? ' (error)' : ''}: ${typeof b.content === 'string' ? b.content : JSON.stringify(b.content)}`,
        );
      else lines.push(`${message.role}: [${String(b.type)}]`);
    }
  }
  for (const p of state.pendingApprovals)
    lines.push(
      `pending approval: ${p.toolUseId} ${p.name} ${JSON.stringify(p.input)} (deadline ${p.deadline})`,
    );
  return lines.join('\n');
}

const USAGE = `usage: agent <command> [--json]
  start <prompt> [--tools a,b] [--system S] [--model M] [--single-turn] [--id ID] [--max-turns N] [--max-tokens N] [--wait]
  send <workflowId> <message>        show <workflowId>        list [--status S] [--limit N]
  watch <workflowId>                 (the live model stream, from the ops server: OPS_URL, OPS_TOKEN)
  pending                            approve <workflowId> <toolUseId> [--input JSON] [--reason R] [--by NAME]
  reject <workflowId> <toolUseId> --reason R [--by NAME]
  resume <workflowId> [--note N]     end <workflowId> [--reason R]     cancel <workflowId>
exit codes: 0 done, 1 failed, 2 bad usage, 3 refused, 4 not found, 5 Temporal or worker unreachable`;

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const json = process.argv.includes('--json');
    const code =
      err instanceof UsageError ? EXIT.usage : err instanceof AgentError ? EXIT[err.code] : EXIT.failed;
    const kind = err instanceof UsageError ? 'usage' : err instanceof AgentError ? err.code : 'failed';
    const message = err instanceof Error ? err.message : String(err);
    if (json) console.log(JSON.stringify({ error: kind, message }));
    console.error(`agent: ${message}`);
    process.exit(code);
  },
);
