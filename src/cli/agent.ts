#!/usr/bin/env node
/**
 * `npm run agent -- <command>`: conversations from the command line.
 *
 *   start <prompt|-> [--agent NAME | --model M [--tools a,b] [--system S]] [--single-turn] [--id ID] [--max-turns N]
 *         [--budget-usd N] [--budget-tokens N] [--wait]
 *   send <workflowId> <message|->
 *   show <workflowId>                   (with its agent, the parent of a sub-agent, the sub-agents it ran)
 *   list [--status S] [--agent NAME] [--limit N]
 *   watch <workflowId>                  (live model stream; OPS_URL, OPS_TOKEN)
 *   pending                             (with each call's agent and, for a sub-agent's, its parent)
 *   (with OPS_URL and OPS_OPERATOR_TOKEN, approve/reject/resume/end/budget/compact go through the ops API as that operator)
 *   approve <workflowId> <toolUseId> [--input JSON] [--reason R] [--by NAME]
 *   reject <workflowId> <toolUseId> --reason R [--by NAME]
 *   resume <workflowId> [--note N]      end <workflowId> [--reason R]      cancel <workflowId>
 *   budget <workflowId> [--usd N] [--tokens N] [--note N] [--by NAME]   (raises a conversation's budget)
 *   compact <workflowId> [--instructions TEXT] [--note N] [--by NAME]  (compacts it at its next safe point)
 *   fork <workflowId> --at N [--message TEXT] [--id ID] [--by NAME]  (a new conversation from its transcript up to message N)
 *   schedule create <prompt|-> --cron EXPR | --every 1h [--timezone TZ] [--agent NAME] [--model M] [--id ID]
 *   schedule list | show <id> | pause <id> [--note N] | unpause <id> | trigger <id> | delete <id>   (src/cli/schedule.ts)
 *   operators add <name> --role viewer|approver|admin [--groups a,b] | list | remove <name>   (src/cli/operators.ts)
 *
 * `-` as the prompt or message reads it from stdin. Every command takes --json (machine-readable output
 * on stdout). Exit codes: 0 done, 1 failed, 2 bad usage, 3 refused by the conversation, 4 no such
 * conversation, 5 Temporal or worker unreachable.
 *
 * What a conversation holds was written by users, tools and the model: everything printed for a person
 * goes through forTerminal, every JSON through jsonForTerminal (src/cli/sanitize.ts).
 */
import { userInfo } from 'node:os';
import type { AgentToolInfo, AgentView } from '../api/agents';
import type { Budget, ConversationResult, ConversationState } from '../api/conversation';
import type { OutputSchema } from '../api/structured-output';
import type { AgentClient, AgentError } from '../client';
import type { Config } from '../config';
import { parseCommand, USAGE, type Command } from './args';
import { messageText } from './message-text';
import { readOutputSchema } from './output-schema';
import { UsageError } from './parse';
import { bounded, forTerminal, jsonForTerminal } from './sanitize';
import { parseScheduleCommand, runSchedule, SCHEDULE_USAGE, type ScheduleCommand } from './schedule';
import { OPERATORS_USAGE, runOperators } from './operators';
import { approverText, decisionText } from './approver-text';
import { AUDIT_USAGE, auditCli } from './audit';
import type { OperatorActions } from './ops-api';
import { opsToken } from './state-dir';
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

/** The client module, once loaded (after the arguments are checked). */
let client: typeof import('../client') | undefined;

/** Text for the operator on stderr. */
function warn(text: string): void {
  console.error(forTerminal(`agent: ${text}`));
}

async function main(argv: string[]): Promise<number> {
  // `operators` edits the ops server's local operators file: no Temporal connection (src/cli/operators.ts).
  if (argv[0] === 'operators') return runOperators(argv.slice(1));
  // `audit` reads every conversation's decisions (src/cli/audit.ts).
  if (argv[0] === 'audit') return auditCli(argv.slice(1));
  // Everything the command line says is checked before anything connects.
  // `schedule` has sub-commands of its own (src/cli/schedule.ts); a `-` prompt is read there.
  const command = argv[0] === 'schedule' ? await parseScheduleCommand(argv.slice(1)) : parseCommand(argv);
  if (command.name === 'help') {
    console.log(`${USAGE}\n${AUDIT_USAGE}\n${SCHEDULE_USAGE}\n${OPERATORS_USAGE}`);
    return 0;
  }
  if (command.name === 'start') command.prompt = await messageText(command.prompt, 'the prompt');
  const outputSchema =
    command.name === 'start' && command.outputSchemaFile !== undefined
      ? await readOutputSchema(command.outputSchemaFile)
      : undefined;
  if (command.name === 'send') command.message = await messageText(command.message, 'the message');
  // The client (and the Temporal SDK under it) loads only now: a usage error or --help does not wait for it.
  const { loadConfig } = await import('../config');
  client = await import('../client');
  const config = loadConfig();
  // An operator's decisions go through the ops API with their own token: recorded as theirs, held to
  // their role and groups. Direct Temporal access (below) is an administrator's.
  if (config.OPS_URL && config.OPS_OPERATOR_TOKEN && isAction(command)) {
    if (command.by !== undefined)
      throw new UsageError('--by does not apply through the ops API: it records the token’s operator');
    const { OpsApi } = await import('./ops-api');
    return act(new OpsApi(config.OPS_URL, config.OPS_OPERATOR_TOKEN), command, '', outFor(command));
  }
  const token = command.name === 'watch' ? opsToken(config.OPS_TOKEN) : undefined;

  const agent = await client.AgentClient.fromConfig(config);
  // Say when an update had to be sent again (same update id: applied once), on stderr beside the answer.
  agent.onUpdateRetry(({ operation, attempt, reason }) =>
    process.stderr.write(`agent: ${operation} sent again after attempt ${attempt} was refused: ${reason}\n`),
  );
  try {
    return await run(agent, config, command, token, outputSchema);
  } finally {
    await agent.client.connection.close();
  }
}

async function run(
  agent: AgentClient,
  config: Config,
  command: Command | ScheduleCommand,
  token?: string,
  outputSchema?: OutputSchema,
): Promise<number> {
  const by = ('by' in command ? command.by : undefined) ?? `${userInfo().username}@cli`;
  const out = outFor(command);
  if (isAction(command)) return act(agent, command, by, out);
  switch (command.name) {
    case 'help':
      return 0;
    case 'start': {
      // With an agent, the model is the agent's; without one, --model or the configured default.
      // An agent no worker serves fails here: AgentError 'invalid', naming the agents they serve.
      const started = await agent.startConversation(
        {
          ...(command.agent !== undefined
            ? { agent: command.agent }
            : { model: command.model ?? config.AGENT_MODEL }),
          message: command.prompt,
          tools: command.tools,
          ...(command.system !== undefined && { system: command.system }),
          singleTurn: command.singleTurn,
          ...(command.maxTokens !== undefined && { maxTokens: command.maxTokens }),
          limits: command.maxTurns !== undefined ? { maxTurns: command.maxTurns } : {},
          ...(command.budget && { budget: command.budget }),
          ...(outputSchema && { outputSchema }),
        },
        { workflowId: command.id },
      );
      const agentLine = command.agent === undefined ? '' : `\n${startedAgent(command.agent, started.agent)}`;
      if (!command.wait) {
        out(started, `started ${started.workflowId}${agentLine}`);
        return 0;
      }
      // --wait: stream the answer live (if the ops server is reachable), then print the outcome.
      if (!command.json) warn(`started ${started.workflowId}${agentLine}`);
      const handle = agent.client.workflow.getHandle(started.workflowId);
      const result = handle.result();
      await watchConversation(
        agent,
        config,
        started.workflowId,
        command.json,
        undefined,
        result.then(() => undefined),
      ).catch((err: unknown) => {
        warn(`no live stream (${bounded((err as Error).message)}); waiting for the answer`);
      });
      const final = await result;
      out(
        { workflowId: started.workflowId, ...final },
        `\n${finalText(final)}\n[${final.status}: ${final.endReason}]`,
      );
      return 0;
    }
    case 'send': {
      const result = await agent.sendMessage(command.workflowId, command.message);
      out(
        result,
        `turn ${result.turn}${result.queuedBehind ? ` (queued behind ${result.queuedBehind})` : ''}`,
      );
      return 0;
    }
    case 'show': {
      const [state, scheduleId] = await Promise.all([
        agent.getState(command.workflowId),
        agent.schedules.scheduledBy(command.workflowId),
      ]);
      out(scheduleId ? { ...state, scheduleId } : state, renderState(state, scheduleId));
      return 0;
    }
    case 'list': {
      const rows = await agent.listConversations(command);
      out(
        rows,
        rows
          .map(
            (r) =>
              `${r.workflowId}  ${r.status.padEnd(17)} ${r.model ?? ''}${r.agent ? `  agent ${r.agent}` : ''}  ${r.lastActivity ?? ''}${r.pendingApprovals ? `  pending ${r.pendingApprovals}` : ''}`,
          )
          .join('\n') || 'no conversations',
      );
      return 0;
    }
    case 'pending': {
      // The queue lists what it can read; a conversation it cannot is named on stderr, not dropped silently.
      const items = await agent.listPendingApprovals({
        onUnreadable: (c) => warn(`could not read ${c.workflowId} (${c.code}): ${c.error}`),
      });
      out(
        items,
        items
          .map(
            (p) =>
              `${p.workflowId}  ${p.toolUseId}  ${p.name}${p.agent ? `  agent ${p.agent}` : ''}${p.parent ? `  via ${p.parent.workflowId}` : ''}  requested ${p.requestedAt}  deadline ${p.deadline}${approverText(p)}\n  ${JSON.stringify(p.input)}`,
          )
          .join('\n') || 'no tool calls waiting for approval',
      );
      return 0;
    }
    case 'fork': {
      const started = await agent.fork(command.workflowId, {
        at: command.at,
        ...(command.message !== undefined && { message: command.message }),
        ...(command.id && { workflowId: command.id }),
        by,
      });
      out(started, `forked: ${started.workflowId} (from ${command.workflowId} at message ${command.at})`);
      return 0;
    }
    case 'watch': {
      await watchConversation(agent, config, command.workflowId, command.json, token);
      return 0;
    }
    case 'cancel': {
      await agent.cancel(command.workflowId);
      out({ cancelled: true }, 'cancellation requested');
      return 0;
    }
    case 'schedule':
      return runSchedule(agent, config, command, by);
  }
}

/** The commands that decide or steer a conversation: through the ops API, or Temporal directly. */
type Action = Extract<Command, { name: 'approve' | 'reject' | 'resume' | 'end' | 'budget' | 'compact' }>;

const isAction = (command: Command | ScheduleCommand): command is Action =>
  ['approve', 'reject', 'resume', 'end', 'budget', 'compact'].includes(command.name);

/** Prints `json` with --json, else `text` (both made safe for the terminal). */
const outFor = (command: { json: boolean }) => (json: unknown, text: string) =>
  console.log(command.json ? jsonForTerminal(json, 2) : forTerminal(text));

/** Runs an action with `actions` (the client, or the ops API as the signed operator). */
async function act(
  agent: OperatorActions,
  command: Action,
  by: string,
  out: (json: unknown, text: string) => void,
): Promise<number> {
  switch (command.name) {
    case 'approve':
    case 'reject': {
      const decision = command.name === 'reject' ? 'reject' : command.input ? 'edit' : 'approve';
      const [recorded] = await agent.decide(command.workflowId, {
        toolUseId: command.toolUseId,
        decision,
        ...(command.name === 'approve' && command.input && { input: command.input }),
        ...(command.reason !== undefined && { reason: command.reason }),
        decidedBy: by,
        channel: 'cli',
      });
      out(recorded, decisionText(recorded));
      return 0;
    }
    case 'resume': {
      const status = await agent.resume(command.workflowId, by, command.note);
      out({ status }, `resumed: ${status}`);
      return 0;
    }
    case 'end': {
      const status = await agent.end(command.workflowId, by, command.reason);
      out({ status }, `ended: ${status}`);
      return 0;
    }
    case 'budget': {
      const { usd, tokens, note } = command;
      const budget = await agent.raiseBudget(command.workflowId, { usd, tokens, by, note });
      out({ budget }, `budget: ${budgetText(budget)}`);
      return 0;
    }
    case 'compact': {
      const { instructions, note } = command;
      const view = await agent.compact(command.workflowId, { instructions, note, by });
      out(
        { compaction: view },
        view.requested
          ? `compaction requested (${view.count} so far): it happens at the next safe point`
          : `compacted (${view.count} so far)`,
      );
      return 0;
    }
  }
}

/** Streams the conversation live until it closes (or Ctrl-C). */
async function watchConversation(
  agent: AgentClient,
  config: Config,
  workflowId: string,
  json: boolean,
  token: string | undefined,
  until?: Promise<void>,
): Promise<void> {
  const description = await agent.client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => {
      throw new client!.AgentError('not_found', `no conversation with id ${workflowId}`);
    });
  const url = config.OPS_URL ?? `http://${config.OPS_HOST}:${config.OPS_PORT}`;
  token ??= opsToken(config.OPS_TOKEN);
  if (description.status.name !== 'RUNNING')
    warn(`${workflowId} is ${description.status.name.toLowerCase()}; showing its last live state`);
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
  // watch() renders through forTerminal itself (and its JSON through jsonForTerminal).
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

/**
 * What `start --wait` prints of the outcome: with structured output, the parsed output as JSON (or why
 * there is none, after the answer's text); otherwise the last answer's text.
 */
function finalText(final: ConversationResult): string {
  if (!final.outputStatus) return final.lastText;
  if (final.outputStatus === 'ok') return JSON.stringify(final.output, null, 2);
  return `${final.lastText}\n[output ${final.outputStatus}: ${final.outputReason ?? ''}]`;
}

/** The last turn's structured output, on one line. */
function outputLine(output: NonNullable<ConversationState['output']>): string {
  const what = output.status === 'ok' ? JSON.stringify(output.value) : (output.reason ?? '');
  return `output (turn ${output.turn}): ${output.status}: ${what}`;
}

function renderState(state: ConversationState, scheduleId?: string): string {
  const lines = [
    `status: ${state.status}${state.attention ? ` (${state.attention.reason}: ${state.attention.message})` : ''}`,
    `model: ${state.model}  turn: ${state.turn}  tokens in/out: ${state.usage.inputTokens}/${state.usage.outputTokens}`,
    ...(state.budget ? [`budget: ${spentText(state.budget)}`] : []),
    ...(state.output ? [outputLine(state.output)] : []),
    ...compactionLines(state),
    ...(scheduleId ? [`schedule: ${scheduleId}`] : []),
    ...agentLines(state),
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
      else if (b.type === 'compaction')
        lines.push(
          `— compacted: the messages before this one are summarized —\n${message.role}: [summary] ${String(b.content)}`,
        );
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

/**
 * Where the transcript stands with compaction: how many, the last one, the prompt's start, and where
 * the messages summarized in earlier runs are (not shown here: `earlierMessages` in the client).
 */
function compactionLines(state: ConversationState): string[] {
  const view = state.compaction;
  if (!view) return [];
  const last = view.recent.at(-1);
  return [
    `compactions: ${view.count}${last ? ` (last: ${last.trigger}${last.by ? ` by ${last.by}` : ''} at message ${last.index}, ${last.at})` : ''}; the prompt starts at message ${view.promptFrom}`,
    ...(view.earlier
      ? [`messages 0-${view.earlier.firstIndex - 1}: compacted, in run ${view.earlier.runId}`]
      : []),
    ...(view.requested
      ? [`compaction requested${view.requested.by ? ` by ${view.requested.by}` : ''} at ${view.requested.at}`]
      : []),
  ];
}

/** `$0.50, 100,000 tokens`: a budget's ceilings. */
function budgetText(budget: Budget): string {
  return [
    budget.usd !== undefined && dollars(budget.usd),
    budget.tokens !== undefined && `${count(budget.tokens)} tokens`,
  ]
    .filter(Boolean)
    .join(', ');
}

/** `$0.0123 of $0.50, 1,234 of 100,000 tokens`: what a conversation spent against its budget. */
function spentText({ limit, spent }: NonNullable<ConversationState['budget']>): string {
  return [
    limit.usd !== undefined && `$${spent.usd.toFixed(4)} of ${dollars(limit.usd)}`,
    limit.tokens !== undefined && `${count(spent.tokens)} of ${count(limit.tokens)} tokens`,
  ]
    .filter(Boolean)
    .join(', ');
}

/** `$0.50`, `$2.00`, `$0.125`: cents at least, and every digit a limit was given with. */
function dollars(usd: number): string {
  return `$${Number(usd.toFixed(2)) === usd ? usd.toFixed(2) : String(usd)}`;
}

/** `100,000`: the same on every machine, whatever its locale. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** What `start --agent` says about the agent: as a worker listed it, or that none has yet. */
function startedAgent(name: string, view: AgentView | undefined): string {
  return view
    ? `agent: ${view.name} (fingerprint ${view.fingerprint})`
    : `agent: ${name} (no worker has listed it yet: the conversation starts when one does)`;
}

/** The agent of a conversation, the parent of a sub-agent's, and the sub-agents it ran. */
function agentLines(state: ConversationState): string[] {
  const lines: string[] = [];
  const a = state.agent;
  if (a) {
    lines.push(`agent: ${a.name} (fingerprint ${a.fingerprint})`);
    for (const c of a.changes) lines.push(`agent changed at turn ${c.turn}: ${c.from} → ${c.to} (${c.at})`);
    if (a.tools.length > 0) lines.push(`tools: ${a.tools.map(toolText).join(', ')}`);
    for (const u of a.unavailable ?? []) lines.push(`MCP server ${u.server} unavailable: ${u.error}`);
  }
  const p = state.parent;
  if (p) lines.push(`sub-agent of ${p.workflowId} (tool call ${p.toolUseId})`);
  const runs = state.subAgents ?? [];
  if (runs.length > 0) lines.push('sub-agents:');
  for (const run of runs)
    lines.push(
      `  ${run.workflowId}  ${run.agent}  ${run.status}  started ${run.startedAt}${run.endedAt ? `  ended ${run.endedAt}` : ''}`,
    );
  return lines;
}

/** `lookup (tool, read)`, `help__search (mcp help, read)`, `weather (agent)`. */
function toolText(tool: AgentToolInfo): string {
  const from = tool.source === 'mcp' && tool.server ? `mcp ${tool.server}` : tool.source;
  return `${tool.name} (${from}${tool.effect ? `, ${tool.effect}` : ''})`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const argv = process.argv.slice(2);
    // Before `--`: after it, "--json" is a prompt's text.
    const json = (argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv).includes('--json');
    const agentError = client && err instanceof client.AgentError ? err : undefined;
    const code = err instanceof UsageError ? EXIT.usage : agentError ? EXIT[agentError.code] : EXIT.failed;
    const kind = err instanceof UsageError ? 'usage' : (agentError?.code ?? 'failed');
    // A server's message may echo what was sent (an id, a whole input): printed bounded and sanitised.
    const message = bounded(err instanceof Error ? err.message : String(err));
    if (json) console.log(jsonForTerminal({ error: kind, message }));
    warn(message);
    process.exit(code);
  },
);
