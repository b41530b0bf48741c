/**
 * `npm run crash-test [-- --short] [--only <case>]`: kills the worker (SIGKILL) at each crash point of a
 * conversation (and of a sub-agent's child conversation), restarts the Temporal server mid-conversation,
 * then runs many conversations with kills at random moments. Real processes: the Temporal CLI dev server
 * on a SQLite file, the worker as a child process, the fake Messages API. Exits non-zero if any
 * conversation is lost or any side effect repeats.
 */
import { CASES, runCase, runRandomized } from '../test/support/crash-scenarios';
import { CRASH_AGENT_MODULE, CrashStack } from '../test/support/stack';

async function main(): Promise<number> {
  const short = process.argv.includes('--short');
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
  const stack = await CrashStack.start({ agentModule: CRASH_AGENT_MODULE });
  let failed = 0;
  try {
    await stack.startWorker();
    for (const spec of CASES.filter((c) => !only || c.name === only)) {
      const result = await runCase(stack, spec, String(Date.now()));
      failed += result.ok ? 0 : 1;
      const children =
        result.childConversations !== undefined ? `, ${result.childConversations} child conversation(s)` : '';
      const recovery =
        result.recoveryMs !== undefined
          ? `, recovered ${(result.recoveryMs / 1000).toFixed(1)} s after the kill`
          : '';
      console.log(
        `${result.ok ? 'ok  ' : 'FAIL'} ${spec.name}: ${result.requests} model requests (fault-free ${result.baselineRequests}), ${result.sideEffects} side effects${children}${recovery} [${(result.ms / 1000).toFixed(1)} s]`,
      );
      for (const p of result.problems) console.log(`     ${p}`);
    }
    const random = await runRandomized(
      stack,
      short ? { conversations: 6, kills: 2 } : { conversations: 20, kills: 5 },
    );
    for (const p of random.problems) console.log(`     ${p}`);
    console.log(
      `crash-test: ${random.conversations} conversations, ${random.kills} kills, ${random.lost} lost, ${random.duplicateSideEffects} duplicate side effects [${(random.ms / 1000).toFixed(1)} s]`,
    );
    if (random.unexpectedExits)
      console.log(
        `crash-test: ${random.unexpectedExits} worker exit(s) on their own, replaced (see the worker logs)`,
      );
    if (random.lost > 0 || random.duplicateSideEffects > 0 || random.problems.length > 0) failed++;
  } finally {
    await stack.close();
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
