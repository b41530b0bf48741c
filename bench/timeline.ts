/**
 * `node --import tsx bench/timeline.ts [--turns N] [--wait poll1|poll10|history] [--plain] [--cpu-prof DIR] [--memory]
 *   [--dc KEY=JSON]... [--pragma NAME=VALUE]... [--env NAME=VALUE]... [--out FILE]`
 *
 * Where the time of one turn goes (bench/run.ts's overhead scenario: a model call that asks for
 * get_weather, the tool, a final answer; zero model latency). Runs `--turns` turns of one conversation
 * and lines up, per turn and relative to the moment the driver sends the update:
 * - the workflow history's event times (server clock; the update's workflow task, each activity's
 *   scheduled / started / completed, each workflow task's scheduled / started / completed);
 * - inside the worker (bench/timed-worker.ts, unless `--plain`): each activity's entry and exit, and the
 *   transcript query callClaude makes first;
 * - the fake Messages API: when it received each request and wrote the last event of its answer;
 * - the driver: when executeUpdate returned, when it noticed the turn was over.
 * Prints, for each step, the median (and p90) offset and the median gap from the step before.
 *
 * `--wait`: how the driver notices the end of a turn. `poll1` is bench/run.ts's way (a `state` query
 * every 1 ms), `poll10` the same every 10 ms, `history` a long poll on the workflow history (no queries).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { temporal } from '@temporalio/proto';
import { messagesQuery, sendMessageUpdate, stateQuery } from '../src/api/conversation';
import { sleep, type CrashStack } from '../test/support/stack';
import {
  argValue,
  cpuSeconds,
  machineCpu,
  MODEL,
  percentile,
  round,
  settingFromArgs,
  startStack,
  waitForQuiet,
  wallNow,
  weatherTurn,
} from './common';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
interface Mark {
  label: string;
  at: number;
}

const argv = process.argv.slice(2);
const TURNS = Number(argValue(argv, '--turns', '20'));
const WAIT = argValue(argv, '--wait', 'poll1') as 'poll1' | 'poll10' | 'history';
const PLAIN = argv.includes('--plain');
const OUT = argValue(argv, '--out', '');

const eventMs = (e: HistoryEvent): number =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** Follows a workflow's history with long polls, keeping every event; `waitFor` resolves when a predicate holds. */
class HistoryFollower {
  readonly events: HistoryEvent[] = [];
  private waiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly stack: CrashStack,
    private readonly workflowId: string,
  ) {
    // A long poll still open when the stack closes fails: that is the end of following.
    this.run().catch(() => undefined);
  }

  private async run(): Promise<void> {
    let nextPageToken: Uint8Array | undefined;
    while (!this.stopped) {
      const response = await this.stack.agent.client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: this.workflowId },
        waitNewEvent: true,
        maximumPageSize: 1000,
        nextPageToken,
      });
      this.events.push(...(response.history?.events ?? []));
      for (const wake of this.waiters.splice(0)) wake();
      if (!response.nextPageToken?.length) return;
      nextPageToken = response.nextPageToken;
    }
  }

  async waitFor(predicate: (events: HistoryEvent[]) => boolean): Promise<void> {
    while (!predicate(this.events)) await new Promise<void>((r) => this.waiters.push(r));
  }

  stop(): void {
    this.stopped = true;
  }
}

const EventType = {
  WFT_SCHEDULED: 5,
  WFT_STARTED: 6,
  WFT_COMPLETED: 7,
  ACT_SCHEDULED: 10,
  ACT_STARTED: 11,
  ACT_COMPLETED: 12,
  UPDATE_ACCEPTED: 41,
  UPDATE_COMPLETED: 43,
};

/** The end of turn `turn`'s work in history: 3 activities completed after its update, then a workflow task completed. */
function turnDone(events: HistoryEvent[], acceptedSeen: number): boolean {
  let accepted = 0;
  let activities = 0;
  for (const e of events) {
    const type = Number(e.eventType);
    if (type === EventType.UPDATE_ACCEPTED) accepted++;
    if (accepted < acceptedSeen) continue;
    if (type === EventType.ACT_COMPLETED) activities++;
    if (type === EventType.WFT_COMPLETED && activities >= 3) return true;
  }
  return false;
}

async function waitForTurn(
  stack: CrashStack,
  workflowId: string,
  turn: number,
  follower: HistoryFollower,
  pollMs: number,
): Promise<void> {
  if (WAIT === 'history') {
    await follower.waitFor((events) => turnDone(events, turn - 1));
    return;
  }
  const handle = stack.agent.client.workflow.getHandle(workflowId);
  for (;;) {
    const state = await handle.query(stateQuery, { from: 0, to: 0 });
    if (state.turn === turn && (state.status === 'idle' || state.status === 'completed')) return;
    await sleep(pollMs);
  }
}

/** Names each history event of one turn: `wft#2 started`, `callClaude#1 scheduled`, ... */
function historyMarks(events: HistoryEvent[]): Mark[] {
  const marks: Mark[] = [];
  const activityNames = new Map<number, string>();
  const counters = new Map<string, number>();
  let wft = 0;
  for (const e of events) {
    const type = Number(e.eventType);
    const at = eventMs(e);
    const id = Number(e.eventId);
    switch (type) {
      case EventType.WFT_SCHEDULED:
        wft++;
        marks.push({ label: `wft#${wft} scheduled`, at });
        break;
      case EventType.WFT_STARTED:
        marks.push({ label: `wft#${wft} started`, at });
        break;
      case EventType.WFT_COMPLETED:
        marks.push({ label: `wft#${wft} completed`, at });
        break;
      case EventType.UPDATE_ACCEPTED:
        marks.push({ label: 'update accepted', at });
        break;
      case EventType.ACT_SCHEDULED: {
        const name = e.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity';
        const n = (counters.get(name) ?? 0) + 1;
        counters.set(name, n);
        activityNames.set(id, `${name}#${n}`);
        marks.push({ label: `${name}#${n} scheduled`, at });
        break;
      }
      case EventType.ACT_STARTED:
        marks.push({
          label: `${activityNames.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId)) ?? '?'} started (server)`,
          at,
        });
        break;
      case EventType.ACT_COMPLETED:
        marks.push({
          label: `${activityNames.get(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId)) ?? '?'} completed`,
          at,
        });
        break;
      default:
        break;
    }
  }
  return marks;
}

async function main(): Promise<void> {
  const setting = settingFromArgs(argv, 'timeline');
  const timingFile = join(mkdtempSync(join(tmpdir(), 'timeline-')), 'timing.jsonl');
  const profileDir = argValue(argv, '--cpu-prof', '');
  const stack = await startStack(setting, {
    ...(!PLAIN && {
      workerEntry: join(__dirname, 'timed-worker.ts'),
      extraEnv: { BENCH_TIMING_FILE: timingFile },
    }),
    ...(profileDir && { workerNodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] }),
  });
  try {
    const id = `timeline-${Date.now()}`;
    stack.fake.script(id, weatherTurn());
    await stack.agent.startConversation(
      {
        model: MODEL,
        message: 'Turn 0: weather in Paris?',
        tools: ['get_weather'],
        limits: { maxTurns: TURNS + 10 },
      },
      { workflowId: id },
    );
    const follower = new HistoryFollower(stack, id);
    const handle = stack.agent.client.workflow.getHandle(id);
    const warmup = 2;
    const turns: Array<{ turn: number; send: number; ack: number; detected: number }> = [];
    await waitForTurn(stack, id, 1, follower, 1);
    if (argv.includes('--quiet'))
      console.log(`machine load of others before the turns: ${await waitForQuiet()} cores`);
    const cpu0 = {
      server: cpuSeconds(stack.serverPid),
      worker: cpuSeconds(stack.workerPid),
      driver: process.cpuUsage(),
      machine: machineCpu(),
      at: wallNow(),
    };
    for (let turn = 2; turn <= TURNS + warmup + 1; turn++) {
      const send = wallNow();
      await handle.executeUpdate(sendMessageUpdate, {
        args: [{ content: `Turn ${turn}: weather in Paris?` }],
      });
      const ack = wallNow();
      await waitForTurn(stack, id, turn, follower, WAIT === 'poll10' ? 10 : 1);
      const detected = wallNow();
      if (turn > warmup + 1) turns.push({ turn, send, ack, detected });
    }
    const driverCpu = process.cpuUsage(cpu0.driver);
    const cpu = {
      seconds: round((wallNow() - cpu0.at) / 1000, 1),
      serverCpuS: round(cpuSeconds(stack.serverPid) - cpu0.server, 2),
      workerCpuS: round(cpuSeconds(stack.workerPid) - cpu0.worker, 2),
      driverCpuS: round((driverCpu.user + driverCpu.system) / 1e6, 2),
      machineBusyS: round(machineCpu().busy - cpu0.machine.busy, 2),
      othersCores: 0,
    };
    cpu.othersCores = round(
      (cpu.machineBusyS - cpu.serverCpuS - cpu.workerCpuS - cpu.driverCpuS) / cpu.seconds,
      2,
    );
    // The transcript query on its own, from the driver (the worker makes the same call at each model
    // call): latency, and CPU of the server and the worker per query.
    const queryMs: number[] = [];
    const queries = 200;
    const q0 = { server: cpuSeconds(stack.serverPid), worker: cpuSeconds(stack.workerPid) };
    for (let i = 0; i < queries; i++) {
      const t = wallNow();
      await handle.query(messagesQuery, { from: 0, to: 2 });
      queryMs.push(wallNow() - t);
    }
    const queryCpuMs = {
      server: round(((cpuSeconds(stack.serverPid) - q0.server) * 1000) / queries, 2),
      worker: round(((cpuSeconds(stack.workerPid) - q0.worker) * 1000) / queries, 2),
    };
    await stack.agent.end(id);
    await sleep(300); // the timed worker flushes every 50 ms
    follower.stop();
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const timing =
      !PLAIN && existsSync(timingFile)
        ? readFileSync(timingFile, 'utf8')
            .trim()
            .split('\n')
            .map(
              (l) =>
                JSON.parse(l) as {
                  kind: string;
                  name?: string;
                  workflowId: string;
                  start: number;
                  end: number;
                },
            )
        : [];
    const requests = stack.fake.requestsFor(id);

    // Split the history into turns at each update's workflow task (its WorkflowTaskScheduled precedes the acceptance).
    const acceptedAt = events
      .map((e, i) => (Number(e.eventType) === EventType.UPDATE_ACCEPTED ? i : -1))
      .filter((i) => i >= 0);
    const perTurn: Mark[][] = [];
    for (const t of turns) {
      const k = t.turn - 2; // update #k (0-based) started turn t.turn
      let from = acceptedAt[k];
      while (from > 0 && Number(events[from].eventType) !== EventType.WFT_SCHEDULED) from--;
      // The turn's work ends with the workflow task after its third activity (the final answer's).
      let end = acceptedAt[k];
      let activities = 0;
      while (end < events.length) {
        const type = Number(events[end++].eventType);
        if (type === EventType.ACT_COMPLETED) activities++;
        if (type === EventType.WFT_COMPLETED && activities >= 3) break;
      }
      const slice = events.slice(from, end);
      const marks: Mark[] = [
        { label: 'driver: update sent', at: t.send },
        { label: 'driver: update returned', at: t.ack },
        { label: 'driver: turn noticed', at: t.detected },
        ...historyMarks(slice),
      ];
      const counters = new Map<string, number>();
      const within = (at: number) => at >= t.send && at <= t.detected;
      for (const entry of timing
        .filter((e) => e.workflowId === id && within(e.start))
        .sort((a, b) => a.start - b.start)) {
        const name = entry.kind === 'query' ? 'query' : entry.name!;
        const n = (counters.get(name) ?? 0) + 1;
        counters.set(name, n);
        marks.push(
          { label: `worker: ${name}#${n} start`, at: entry.start },
          { label: `worker: ${name}#${n} end`, at: entry.end },
        );
      }
      let r = 0;
      for (const request of requests.filter((q) => within(q.receivedAt))) {
        r++;
        marks.push({ label: `fake: request#${r} received`, at: request.receivedAt });
        if (request.sentAt?.length)
          marks.push({ label: `fake: request#${r} last event`, at: request.sentAt.at(-1)! });
      }
      perTurn.push(marks.map((m) => ({ label: m.label, at: m.at - t.send })));
    }

    // Median offset per label, ordered by it; the gap is from the step before in that order.
    const labels = [...new Set(perTurn.flat().map((m) => m.label))];
    const rows = labels
      .map((label) => {
        const offsets = perTurn
          .map((marks) => marks.find((m) => m.label === label)?.at)
          .filter((x): x is number => x !== undefined);
        return { label, p50: percentile(offsets, 50), p90: percentile(offsets, 90), n: offsets.length };
      })
      .sort((a, b) => a.p50 - b.p50);
    const totals = turns.map((t) => t.detected - t.send);
    const lastWft = perTurn.map((marks) =>
      Math.max(
        ...marks.filter((m) => m.label.endsWith('completed') && m.label.startsWith('wft')).map((m) => m.at),
      ),
    );
    console.log(
      `\ntimeline of ${turns.length} turns (wait: ${WAIT}, server: ${JSON.stringify(setting.server)}, worker env: ${JSON.stringify(setting.workerEnv)}${PLAIN ? ', plain worker' : ''})`,
    );
    console.log(
      `  ${'step'.padEnd(42)} ${'p50 at'.padStart(8)} ${'p90 at'.padStart(8)} ${'gap'.padStart(7)}`,
    );
    let previous = 0;
    for (const row of rows) {
      console.log(
        `  ${row.label.padEnd(42)} ${row.p50.toFixed(1).padStart(8)} ${row.p90.toFixed(1).padStart(8)} ${(row.p50 - previous).toFixed(1).padStart(7)}${row.n < turns.length ? `  (${row.n} turns)` : ''}`,
      );
      previous = row.p50;
    }
    const summary = {
      setting,
      wait: WAIT,
      plain: PLAIN,
      turns: turns.length,
      turnMs: {
        p50: round(percentile(totals, 50), 1),
        p95: round(percentile(totals, 95), 1),
        min: round(Math.min(...totals), 1),
      },
      untilLastWorkflowTaskMs: {
        p50: round(percentile(lastWft, 50), 1),
        p95: round(percentile(lastWft, 95), 1),
      },
      cpu,
      driverQueryMs: { p50: round(percentile(queryMs, 50), 2), p90: round(percentile(queryMs, 90), 2) },
      queryCpuMs,
      steps: rows.map((r) => ({ label: r.label, p50: round(r.p50, 2), p90: round(r.p90, 2) })),
    };
    console.log(
      `  turn (sent -> noticed): p50 ${summary.turnMs.p50} ms, p95 ${summary.turnMs.p95} ms, min ${summary.turnMs.min} ms; sent -> last workflow task completed: p50 ${summary.untilLastWorkflowTaskMs.p50} ms`,
    );
    console.log(
      `  CPU over the turns (${cpu.seconds} s): server ${cpu.serverCpuS} s, worker ${cpu.workerCpuS} s, driver ${cpu.driverCpuS} s; other processes used ${cpu.othersCores} cores on average`,
    );
    console.log(
      `  messages query from the driver: p50 ${summary.driverQueryMs.p50} ms, p90 ${summary.driverQueryMs.p90} ms; CPU per query: server ${queryCpuMs.server} ms, worker ${queryCpuMs.worker} ms`,
    );
    if (OUT) writeFileSync(OUT, `${JSON.stringify(summary, null, 2)}\n`);
    // A graceful stop, so a worker run with NODE_OPTIONS=--cpu-prof writes its profiles.
    await stack.killWorker('SIGTERM');
  } finally {
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
