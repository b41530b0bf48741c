/**
 * The package as another project gets it: `npm pack` (which builds, through prepack), a fresh project
 * that installs the tarball, and that project's own files (test/e2e/package-consumer: a write tool made
 * with `defineTool`, a worker from `<pkg>/worker`, a client from `<pkg>`, a run with `<pkg>/testing`)
 * run by plain node. They import only the package and their own dependencies, never this repository's
 * sources. The worker loads the prebuilt workflow bundle instead of bundling at start; the tool call
 * waits for approval, runs once when approved, the conversation completes, and the package's `agent`
 * bin shows it. Then the declarations: a TypeScript consumer type-checks against the `exports` map
 * (node16 and bundler resolution) and against `typesVersions` (node10).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ts from 'typescript';
import { temporalBinaries } from '../../src/testing/temporal-binaries';

const ROOT = join(__dirname, '..', '..');
const CONSUMER_FILES = join(__dirname, 'package-consumer');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  dependencies: Record<string, string>;
};
const home = mkdtempSync(join(tmpdir(), 'package-test-'));
const project = join(home, 'project');
// Where the README's agent writes its notes (relative to the worker's directory, the project).
const notesDir = join(project, 'notes');
const run = promisify(execFile);
let child: ChildProcess | undefined;
const timings: Record<string, number> = {};

function timedSync<T>(what: string, work: () => T): T {
  const started = Date.now();
  try {
    return work();
  } finally {
    timings[what] = Date.now() - started;
  }
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    timings[what] = Date.now() - started;
  }
}

/** Runs a command, failing with its output. */
async function sh(file: string, args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, timeout, maxBuffer: 64 * 2 ** 20 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

beforeAll(async () => {
  await timed('pack (build included)', () => sh('npm', ['pack', '--pack-destination', home], ROOT, 150_000));
  const tarball = readdirSync(home).find((f) => f.endsWith('.tgz'))!;
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'agent-consumer',
        private: true,
        type: 'module',
        // The worker's connection comes from Temporal's SDK, at the version the package uses.
        dependencies: {
          '@temporalio/worker': pkg.dependencies['@temporalio/worker'],
          zod: pkg.dependencies.zod,
        },
      },
      null,
      2,
    ),
  );
  for (const file of readdirSync(CONSUMER_FILES)) cpSync(join(CONSUMER_FILES, file), join(project, file));
  await timed('install', () =>
    sh(
      'npm',
      ['install', join(home, tarball), '--prefer-offline', '--no-audit', '--no-fund'],
      project,
      150_000,
    ),
  );
}, 300_000);

afterAll(() => {
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  console.log(`package test timings (ms): ${JSON.stringify(timings)}`);
  rmSync(home, { recursive: true, force: true });
});

describe('the package, installed in another project', () => {
  it('ships what the entries need and no sources', () => {
    const installed = join(project, 'node_modules', pkg.name);
    expect(existsSync(join(installed, 'dist', 'workflow-bundle.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist', 'ops', 'public', 'index.html'))).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect(existsSync(join(installed, 'test'))).toBe(false);
  });

  it('runs an agent: a custom write tool, approved through the client, runs once', async () => {
    const output = await timed('conversation run', async () => {
      // Its own process group, so a failure here cannot leave the dev server or the worker behind.
      child = spawn(process.execPath, ['e2e.mjs'], {
        cwd: project,
        detached: true,
        // Only the CLI: a consumer's project has no test server binary.
        env: { ...process.env, TEMPORAL_CLI_PATH: temporalBinaries().cli },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
      const code = await new Promise<number | null>((resolve) => child!.once('exit', resolve));
      if (code !== 0) throw new Error(`e2e.mjs exited with ${code}:\n${text}`);
      return text;
    });
    const outcome = JSON.parse(output.trim().split('\n').at(-1)!) as {
      statusBeforeDecision: string;
      pending: Array<{ name: string; input: unknown }>;
      result: { status: string; lastText: string };
      cliShow: { status: string };
      workerExit: number | string;
      workerOutput: string;
      readyMs: number;
      agent?: { name: string; fingerprint: string };
      requests: Array<{
        system?: unknown;
        tools?: Array<{ name: string }>;
        messages: Array<{ content: string | Array<{ type: string; content?: unknown }> }>;
      }>;
    };

    // The worker loaded the prebuilt bundle: the SDK logs its lifecycle at INFO, but never a bundle built.
    expect(outcome.workerOutput).toMatch(/Worker state changed \{[^}]*RUNNING/);
    expect(outcome.workerOutput).not.toContain('Workflow bundle created');
    timings['worker ready'] = outcome.readyMs;

    // The agent of the module the worker loaded (AGENT_MODULE), its prompt and tool on every call.
    expect(outcome.workerOutput).toMatch(/agents: notes \(from \.\/agents\.mjs\)/);
    expect(outcome.agent).toMatchObject({
      name: 'notes',
      fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
    expect(JSON.stringify(outcome.requests[0].system)).toContain('You keep notes for the team.');
    expect(outcome.requests[0].tools?.map((t) => t.name)).toEqual(['save_note']);
    expect(outcome.statusBeforeDecision).toBe('awaiting_approval');
    expect(outcome.pending).toMatchObject([
      { name: 'save_note', input: { title: 'Durable', body: 'Conversations survive crashes.' } },
    ]);
    expect(outcome.result).toEqual(
      expect.objectContaining({ status: 'completed', lastText: 'Saved your note.' }),
    );
    const effects = readFileSync(join(notesDir, 'notes.log'), 'utf8').trim().split('\n');
    expect(effects).toHaveLength(1);
    expect(JSON.parse(effects[0])).toEqual({ title: 'Durable', body: 'Conversations survive crashes.' });
    // The model got the tool's result.
    const toolResults = outcome.requests
      .at(-1)!
      .messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []))
      .filter((b) => b.type === 'tool_result');
    expect(toolResults).toMatchObject([{ content: JSON.stringify({ saved: true, title: 'Durable' }) }]);
    expect(outcome.cliShow.status).toBe('completed');
    expect(outcome.workerExit).toBe(0);
  }, 90_000);

  it('runs the README\'s "Build your agent" code, as it is written there', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const file of ['agents.mjs', 'worker.mjs']) {
      const block = new RegExp('```js\\n(// ' + file.replace('.', '\\.') + '[\\s\\S]*?)```').exec(
        readme,
      )?.[1];
      expect(block).toBe(readFileSync(join(CONSUMER_FILES, file), 'utf8'));
    }
  });

  it('type-checks for TypeScript consumers (exports with node16 and bundler, typesVersions with node10)', () => {
    writeFileSync(join(project, 'check.ts'), CONSUMER_TYPES);
    const resolutions: Array<Pick<ts.CompilerOptions, 'module' | 'moduleResolution'>> = [
      { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
      { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
      { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 },
    ];
    const errors = timedSync('type checks', () =>
      resolutions.flatMap((resolution) => typeErrors(join(project, 'check.ts'), resolution)),
    );
    expect(errors).toEqual([]);
  }, 90_000);
});

/** Declaration files parsed once for the three checks (parsing is most of their time). */
const parsed = new Map<string, ts.SourceFile | undefined>();

/** This repository's compiler on a consumer's file: it resolves the consumer's node_modules. */
function typeErrors(
  file: string,
  resolution: Pick<ts.CompilerOptions, 'module' | 'moduleResolution'>,
): string[] {
  const options: ts.CompilerOptions = {
    ...resolution,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const parse = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => {
    // The key holds what parsing depends on (the module format a file is read as differs by resolution).
    const key = `${name}\0${JSON.stringify(version)}`;
    if (!parsed.has(key)) parsed.set(key, parse(name, version, ...rest));
    return parsed.get(key);
  };
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const at = where ? `${d.file!.fileName}:${where.line + 1}` : '';
    return `[${ts.ModuleResolutionKind[options.moduleResolution!]}] ${at} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/** A consumer's TypeScript: each entry's names resolve to their real types (a wrong use fails). */
const CONSUMER_TYPES = `
import { AgentClient, AgentError } from 'claude-temporal-agent';
import { anthropicClient, createAgentWorker, CONVERSATION_BUNDLE_OPTIONS, type AgentWorkerOptions } from 'claude-temporal-agent/worker';
import { defineAgent, defineTool, IdempotentStore, idempotentWrite, type AgentDefinition, type ToolDefinition } from 'claude-temporal-agent/agents';
import { FakeClaude, reply, startDevServer } from 'claude-temporal-agent/testing';
import { z } from 'zod';

const store = new IdempotentStore({ dir: 'records' });
export const shout: ToolDefinition = defineTool({
  name: 'shout',
  description: 'Upper-cases a text',
  input: z.object({ text: z.string() }),
  effect: 'write',
  run: async ({ text }, ctx) => (await idempotentWrite(store, ctx, async () => text.toUpperCase())).result,
});
defineTool({
  name: 'wrong',
  description: 'Its input is a string',
  input: z.object({ text: z.string() }),
  effect: 'read',
  // @ts-expect-error: the input's type comes from the schema
  run: async ({ text }) => text.toFixed(),
});
export const tools: AgentWorkerOptions['tools'] = [shout];
export const agents: AgentDefinition[] = [
  defineAgent({ name: 'shouter', model: 'claude-sonnet-5-5', tools: [shout], approval: { shout: 'never' } }),
];
export const workflowsPath: string = CONVERSATION_BUNDLE_OPTIONS.workflowsPath;
export const uses = [createAgentWorker, anthropicClient, startDevServer, FakeClaude.start, reply.text('hi'), AgentError];
export async function start(client: AgentClient): Promise<string> {
  const { workflowId } = await client.startConversation({ model: 'claude-sonnet-5-5', message: 'hi' });
  // @ts-expect-error: a decision is approve, reject or edit
  await client.decide(workflowId, { toolUseId: 'toolu_1', decision: 'maybe', decidedBy: 'me' });
  return workflowId;
}
`;
