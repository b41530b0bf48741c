/**
 * `agent operators add <name> --role viewer|approver|admin [--groups a,b]` (prints the token once),
 * `agent operators list`, `agent operators remove <name>`: the per-operator tokens of the ops server,
 * kept as hashes in `OPS_OPERATORS_FILE` (default `AGENT_STATE_DIR/operators.json`, mode 0600). No
 * Temporal connection: this edits a local file that the ops server re-reads when it changes.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../ops/identity/identity';
import { isRole } from '../ops/identity/names';
import { OPERATORS_FILE, OperatorStore, OperatorStoreError } from '../ops/identity/operator-store';
import { UsageError } from './parse';
import { forTerminal, jsonForTerminal } from './sanitize';
import { stateDir } from './state-dir';

export const OPERATORS_USAGE = `operators (the ops page's sign-in tokens; kept as hashes in OPS_OPERATORS_FILE):
  operators add <name> --role ${ROLES.join('|')} [--groups a,b]   (prints the new token once)
  operators list
  operators remove <name>`;

/** Where the operators file is: OPS_OPERATORS_FILE, else operators.json in the state directory. */
export function operatorsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPS_OPERATORS_FILE || join(stateDir(env), OPERATORS_FILE);
}

/** Runs an `operators` command; returns the exit code. Bad usage throws {@link UsageError}. */
export function runOperators(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { role: { type: 'string' }, groups: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}\n${OPERATORS_USAGE}`);
  }
  const [sub, name, ...extra] = parsed.positionals;
  const { role, groups, json } = parsed.values;
  const out = (value: unknown, text: string) =>
    console.log(json ? jsonForTerminal(value, 2) : forTerminal(text));
  const store = new OperatorStore(operatorsFile(env));
  if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0]).slice(0, 80)}`);
  try {
    switch (sub) {
      case 'add': {
        if (!name) throw new UsageError(`operators add needs a name\n${OPERATORS_USAGE}`);
        if (!isRole(role)) throw new UsageError(`operators add needs --role ${ROLES.join('|')}`);
        const list = (groups ?? '')
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean);
        const token = store.add(name, role satisfies Role, list);
        if (!json) console.error(`operator ${name} added (${role}); the token is shown once, store it now:`);
        out({ name, role, groups: list, token }, token);
        return 0;
      }
      case 'list': {
        if (name) throw new UsageError('operators list takes no argument');
        const operators = store
          .list()
          .map(({ name, role, groups, createdAt }) => ({ name, role, groups, createdAt }));
        out(
          { operators },
          operators
            .map((o) => `${o.name}  ${o.role}  ${o.groups.join(',') || '-'}  added ${o.createdAt}`)
            .join('\n') || 'no operators',
        );
        return 0;
      }
      case 'remove': {
        if (!name) throw new UsageError('operators remove needs a name');
        if (!store.remove(name))
          throw new UsageError(`no operator named ${JSON.stringify(name).slice(0, 80)}`);
        out({ removed: name }, `operator ${name} removed (their token and sessions no longer work)`);
        return 0;
      }
      default:
        throw new UsageError(OPERATORS_USAGE);
    }
  } catch (err) {
    if (err instanceof OperatorStoreError) throw new UsageError(err.message);
    throw err;
  }
}
