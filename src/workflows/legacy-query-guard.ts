/**
 * A legacy query's answer carries nothing else (workflow internals interceptor, bundled with the
 * conversation workflow: `CONVERSATION_BUNDLE_OPTIONS.workflowInterceptorModules`).
 *
 * A query sent while no workflow task is in flight reaches the worker as a "legacy query": its own
 * task, answered with `RespondQueryTaskCompleted`, which can carry no command. Core therefore refuses a
 * completion of that activation holding anything but the query's answer ("Workflow completion had a
 * legacy query response along with other commands"), as a malformed completion, and the TypeScript
 * worker treats that as fatal: it shuts down. SDK 1.24's `activateQueries` (`@temporalio/worker`,
 * `lib/workflow/vm-shared.js`) concludes a query activation like any other (`concludeActivation` in
 * `@temporalio/workflow`): it hands over every command the activator holds, plus rejections of
 * buffered updates, not only the answers this activation produced. So any command not yet handed over
 * when the query arrives, or issued while it is answered, takes the worker down with the query.
 *
 * Here the answer of a legacy query goes out alone and every other command is kept, in order, for the
 * next activation's completion: the one that can carry commands. Nothing is dropped, so a workflow task
 * is never told less than the workflow did. Each time it happens the workflow logs a warning with the
 * kinds of command it held, so the source shows in the worker's log. Queries delivered with a workflow
 * task (not legacy) are answered in a completion that may carry commands, so they are left alone, as
 * are replays (a replay has no legacy query).
 */
import {
  log,
  type ActivateInput,
  type ConcludeActivationInput,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';

/** Core's id for the query of a legacy query task (`LEGACY_QUERY_ID` in sdk-core). */
export const LEGACY_QUERY_ID = 'legacy_query';

type Command = ConcludeActivationInput['commands'][number];
type Activation = ActivateInput['activation'];

/** Whether an activation is a legacy query's: core never puts that query with other jobs. */
export function isLegacyQueryActivation(activation: Activation): boolean {
  return (activation.jobs ?? []).some((job) => job.queryWorkflow?.queryId === LEGACY_QUERY_ID);
}

/**
 * Splits a legacy query activation's commands into what its completion may carry (query answers) and
 * what must wait for the next activation (everything else, in order).
 */
export function splitLegacyQueryCompletion(commands: Command[]): { answers: Command[]; held: Command[] } {
  const answers: Command[] = [];
  const held: Command[] = [];
  for (const command of commands) (command.respondToQuery ? answers : held).push(command);
  return { answers, held };
}

/** The command's kind as the SDK names it (`scheduleActivity`, `updateResponse`, ...). */
function kind(command: Command): string {
  return Object.keys(command).find((key) => command[key as keyof Command] != null) ?? 'unknown';
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  // Per workflow: the factory runs once for each workflow the sandbox creates.
  let legacyQuery = false;
  let held: Command[] = [];
  return {
    internals: [
      {
        activate(input, next) {
          legacyQuery = isLegacyQueryActivation(input.activation);
          next(input);
        },
        concludeActivation(input, next) {
          if (legacyQuery) {
            legacyQuery = false;
            const split = splitLegacyQueryCompletion(input.commands);
            if (split.held.length > 0) {
              log.warn(
                'a legacy query arrived with commands not yet sent; they go with the next activation',
                {
                  held: split.held.map(kind),
                },
              );
              held = [...held, ...split.held];
            }
            return next({ ...input, commands: split.answers });
          }
          if (held.length === 0) return next(input);
          const commands = [...held, ...input.commands];
          held = [];
          return next({ ...input, commands });
        },
      },
    ],
  };
};
