/**
 * The durable peer of the benchmark (issue 7): the weather scenario of `bench/run.ts` through Temporal's
 * own AI SDK integration (`@temporalio/ai-sdk`, the AI SDK's Anthropic provider pointed at the fake
 * Messages API), so its time per turn and its history growth can stand next to ours.
 *
 * `runAiSdkPeer` runs a worker with the plugin in this process, on a task queue of its own, against a
 * Temporal server the caller names. As a script, `node --import tsx bench/peer.ts [--smoke]` starts its
 * own dev server and fake and prints the figures.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { AiSdkPlugin } from '@temporalio/ai-sdk';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { FakeClaude } from '../src/testing/fake-claude';
import { installQuietRuntime } from '../src/testing/temporal-env';
import { sleep } from '../test/support/stack';
import { MODEL, percentile, round, weatherTurn } from './common';
import {
  endSignal,
  peerConversationWorkflow,
  peerStateQuery,
  userMessageUpdate,
  type PeerState,
} from './peer-workflows';

/** The peer's tool, run as an activity: the same answer as ours in `bench/run.ts`. */
export const peerActivities = {
  async getWeather({ location }: { location: string }): Promise<string> {
    return JSON.stringify({ location, temperature: 18 });
  },
};

export interface AiSdkPeerOptions {
  /** Temporal frontend, `host:port`. */
  address: string;
  /** Default `default`. */
  namespace?: string;
  /** The fake Messages API the AI SDK's Anthropic provider calls; scripted here, per conversation. */
  fake: FakeClaude;
  /** Timed turns, after one warm-up turn. */
  turns: number;
  /** Turn counts at which the history of a second conversation is measured, ascending. */
  checkpoints: number[];
  log?: (line: string) => void;
}

export interface AiSdkPeerResult {
  perTurnMs: { p50: number; p95: number };
  turnsTimed: number;
  /** History at each checkpoint, summed over every run of the conversation. */
  history: Array<{ turns: number; bytes: number; events: number; runs: number }>;
  /** Set when the history conversation closed before the last checkpoint (e.g. its history outgrew the server's limit). */
  stopped?: { turn: number; reason: string; bytes: number; events: number; runs: number };
}

/** The conversation closed while a turn was awaited. */
class PeerStopped extends Error {
  constructor(
    readonly turn: number,
    readonly reason: string,
  ) {
    super(`peer conversation stopped during turn ${turn}: ${reason}`);
  }
}

export async function runAiSdkPeer(opts: AiSdkPeerOptions): Promise<AiSdkPeerResult> {
  const namespace = opts.namespace ?? 'default';
  const log = opts.log ?? (() => undefined);
  installQuietRuntime();
  const nativeConnection = await NativeConnection.connect({ address: opts.address });
  // The client's history pages outgrow gRPC's default 4 MiB receive limit on this peer's long
  // conversations (the SDK's own default sets a key grpc-js does not read), so raise it to 128 MiB.
  const connection = await Connection.connect({
    address: opts.address,
    channelArgs: { 'grpc.max_receive_message_length': 128 * 1024 * 1024 },
  });
  const client = new Client({ connection, namespace });
  const taskQueue = `bench-ai-sdk-peer-${Date.now()}`;
  try {
    // As Temporal documents it: the plugin gets the AI SDK provider and registers the model-call
    // activities (and bundles the Web API polyfills the AI SDK needs in the workflow sandbox).
    const worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowsPath: require.resolve('./peer-workflows'),
      activities: peerActivities,
      plugins: [
        new AiSdkPlugin({
          modelProvider: createAnthropic({ baseURL: `${opts.fake.url}/v1`, apiKey: 'bench' }),
        }),
      ],
    });
    log(`peer: worker ready on ${taskQueue}`);

    const start = async (id: string, message: string) => {
      opts.fake.script(id, weatherTurn());
      await client.workflow.start(peerConversationWorkflow, {
        workflowId: id,
        taskQueue,
        args: [{ model: MODEL, message }],
      });
    };
    // As `waitForTurn` in bench/run.ts: the turn is over once its answer is in the workflow's state.
    // A closed workflow still answers queries (by replay), so a slow turn checks it is still running:
    // the server terminates a workflow whose history outgrows its limit.
    const waitForTurn = async (id: string, turn: number): Promise<PeerState> => {
      const handle = client.workflow.getHandle(id);
      let checkedAt = performance.now();
      for (;;) {
        const state = await handle.query(peerStateQuery);
        if (state.turn === turn && !state.busy) return state;
        if (performance.now() - checkedAt > 2_000) {
          const { status } = await handle.describe();
          if (status.name !== 'RUNNING')
            throw new PeerStopped(turn, `${status.name}: ${await closeReason(id)}`);
          checkedAt = performance.now();
        }
        await sleep(1);
      }
    };
    /** Why a conversation closed, from the last event of its history. */
    const closeReason = async (id: string): Promise<string> => {
      const last = (await client.workflow.getHandle(id).fetchHistory()).events?.at(-1);
      return (
        last?.workflowExecutionTerminatedEventAttributes?.reason ??
        last?.workflowExecutionFailedEventAttributes?.failure?.message ??
        'unknown'
      );
    };
    /** Sends the next user message; an update to a closed conversation fails, so say why it closed. */
    const send = async (id: string, turn: number) => {
      const handle = client.workflow.getHandle(id);
      try {
        await handle.executeUpdate(userMessageUpdate, { args: [`Turn ${turn}: weather in Paris?`] });
      } catch (err) {
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') throw err;
        throw new PeerStopped(turn, `${status.name}: ${await closeReason(id)}`);
      }
    };
    const historySize = async (id: string) => {
      let bytes = 0;
      let events = 0;
      let runs = 0;
      for await (const run of client.workflow.list({ query: `WorkflowId = '${id}'` })) {
        const history = await client.workflow.getHandle(id, run.runId).fetchHistory();
        bytes += temporal.api.history.v1.History.encode(history).finish().length;
        events += history.events?.length ?? 0;
        runs++;
      }
      return { bytes, events, runs };
    };
    const end = async (id: string) => {
      const handle = client.workflow.getHandle(id);
      await handle.signal(endSignal);
      await handle.result();
    };

    return await worker.runUntil(async () => {
      // Time per turn: turn 1 warms up (bundle caches, connections), then `turns` timed turns.
      const timedId = `bench-peer-${Date.now()}`;
      await start(timedId, 'Turn 0: weather in Paris?');
      await waitForTurn(timedId, 1);
      const perTurn: number[] = [];
      for (let i = 1; i <= opts.turns; i++) {
        const started = performance.now();
        await send(timedId, i);
        await waitForTurn(timedId, i + 1);
        perTurn.push(performance.now() - started);
      }
      await end(timedId);
      log(`peer: ${opts.turns} turns timed, p50 ${round(percentile(perTurn, 50))} ms`);

      // History growth: a second conversation, measured at each checkpoint.
      const historyId = `bench-peer-history-${Date.now()}`;
      await start(historyId, 'Turn 1: weather in Paris?');
      const history: AiSdkPeerResult['history'] = [];
      let stopped: AiSdkPeerResult['stopped'];
      let blockStarted = performance.now();
      try {
        for (let turn = 1; turn <= (opts.checkpoints.at(-1) ?? 0); turn++) {
          if (turn > 1) await send(historyId, turn);
          await waitForTurn(historyId, turn);
          if (turn % 25 === 0) {
            log(
              `peer: history conversation at turn ${turn}, ${round((performance.now() - blockStarted) / 25)} ms/turn over the last 25 (checkpoints included)`,
            );
            blockStarted = performance.now();
          }
          if (!opts.checkpoints.includes(turn)) continue;
          history.push({ turns: turn, ...(await historySize(historyId)) });
          log(`peer: history at ${turn} turns: ${JSON.stringify(history.at(-1))}`);
        }
        await end(historyId);
      } catch (err) {
        if (!(err instanceof PeerStopped)) throw err;
        stopped = { turn: err.turn, reason: err.reason, ...(await historySize(historyId)) };
        log(`peer: the conversation stopped during turn ${err.turn}: ${err.reason}`);
      }
      return {
        perTurnMs: { p50: round(percentile(perTurn, 50)), p95: round(percentile(perTurn, 95)) },
        turnsTimed: perTurn.length,
        history,
        ...(stopped && { stopped }),
      };
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}

async function main(): Promise<void> {
  const smoke = process.argv.includes('--smoke');
  // `--history-limit-mib N` raises the server's history size limit (Temporal's default: 50 MiB, past
  // which the server terminates the workflow), to measure the peer past the point it would stop.
  const limitAt = process.argv.indexOf('--history-limit-mib');
  const limitBytes = limitAt > 0 ? Number(process.argv[limitAt + 1]) * 2 ** 20 : undefined;
  const { startDevServer } = await import('../src/testing/temporal-env');
  const { FakeClaude } = await import('../src/testing/fake-claude');
  const env = await startDevServer({
    extraArgs: limitBytes
      ? [
          '--dynamic-config-value',
          `limit.historySize.error=${limitBytes}`,
          '--dynamic-config-value',
          `limit.historySize.warn=${limitBytes}`,
        ]
      : undefined,
  });
  const fake = await FakeClaude.start();
  const started = Date.now();
  try {
    const result = await runAiSdkPeer({
      address: env.address,
      namespace: env.namespace,
      fake,
      turns: smoke ? 5 : 30,
      checkpoints: smoke ? [10] : [10, 50, 200],
      log: console.log,
    });
    console.log(`\nAI SDK peer (${smoke ? 'smoke' : 'full'}, ${round((Date.now() - started) / 1000, 0)} s)`);
    console.log(
      `  per turn: p50 ${result.perTurnMs.p50} ms, p95 ${result.perTurnMs.p95} ms (${result.turnsTimed} turns)`,
    );
    if (result.stopped)
      console.log(
        `  the history conversation stopped during turn ${result.stopped.turn} (${result.stopped.reason}) at ${round(result.stopped.bytes / 1024, 0)} KiB / ${result.stopped.events} events`,
      );
    for (const p of result.history)
      console.log(
        `  history at ${p.turns} turns: ${round(p.bytes / 1024, 0)} KiB (${p.bytes} B) / ${p.events} events / ${p.runs} run(s), ${round(p.bytes / p.turns, 0)} B/turn`,
      );
  } finally {
    await fake.close();
    await env.teardown();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
