// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Workflow code runs in Temporal's deterministic sandbox and is bundled by the worker: it must not
 * reach Node, the network SDKs, the environment, the clock or randomness. `src/api` is imported by
 * workflows, so the same fence holds there. Type-only imports are fine: they vanish at compile time.
 */
const nodeModules = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const sandboxFence = {
  '@typescript-eslint/no-restricted-imports': [
    'error',
    {
      paths: [
        ...nodeModules.map((name) => ({
          name,
          message: 'Node built-ins are not available in workflow code.',
        })),
        {
          name: '@anthropic-ai/sdk',
          allowTypeImports: true,
          message: 'Workflows must not call Claude: do it in an activity (import types only).',
        },
        { name: '@temporalio/activity', message: 'Activity APIs do not belong in workflow code.' },
        { name: '@temporalio/worker', message: 'Worker APIs do not belong in workflow code.' },
        {
          name: '@temporalio/client',
          allowTypeImports: true,
          message: 'Client APIs do not belong in workflow code.',
        },
        {
          name: '@temporalio/workflow',
          importNames: ['patched', 'deprecatePatch'],
          message:
            'Roll a change out through src/workflows/patches.ts (rolledOut(PATCHES.x)), where each patch has its history.',
        },
      ],
      patterns: [
        {
          group: ['@anthropic-ai/sdk/*'],
          allowTypeImports: true,
          message: 'Workflows must not call Claude: do it in an activity (import types only).',
        },
        {
          group: ['**/activities/*', '**/activities'],
          allowTypeImports: true,
          message: 'Import activities as types and call them through proxyActivities.',
        },
        {
          group: ['**/fake-claude/*', '**/ops/*', '**/cli/*', '**/testing/*', '**/config'],
          message: 'Node-side module: not for workflow code.',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    {
      name: 'process',
      message: 'No process (or process.env) in workflow code: pass configuration in the workflow input.',
    },
    { name: 'require', message: 'No require in workflow code.' },
    { name: 'Buffer', message: 'Buffer is a Node API.' },
  ],
  'no-restricted-properties': [
    'error',
    {
      object: 'Date',
      property: 'now',
      message: 'Read workflow time through src/workflows/clock.ts (now(), nowIso()): one explicit way.',
    },
    {
      object: 'Math',
      property: 'random',
      message: 'Use uuid4() from @temporalio/workflow for ids; no randomness in workflows.',
    },
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'Read workflow time through src/workflows/clock.ts (now(), nowIso()): one explicit way.',
    },
    {
      // `wf.patched(...)` through a namespace import: the registry is the one way in.
      selector: 'CallExpression[callee.property.name=/^(patched|deprecatePatch)$/]',
      message:
        'Roll a change out through src/workflows/patches.ts (rolledOut(PATCHES.x)), where each patch has its history.',
    },
  ],
};

/** The fence, less what `files` may do: the patch registry calls `patched()`; the clock reads time. */
function fenceExcept(what) {
  const [level, options] = sandboxFence['@typescript-eslint/no-restricted-imports'];
  if (what === 'patched')
    return {
      '@typescript-eslint/no-restricted-imports': [
        level,
        { ...options, paths: options.paths.filter((p) => p.name !== '@temporalio/workflow') },
      ],
      'no-restricted-syntax': ['error', sandboxFence['no-restricted-syntax'][1]],
    };
  return { 'no-restricted-syntax': ['error', sandboxFence['no-restricted-syntax'][2]] };
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.temporal/',
      '.data/',
      'coverage/',
      'test-artifacts/',
      '**/*.js',
      '!src/ops/public/**/*.js',
      '**/*.mjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Type-aware rules over the product's code: a forgotten `await` on an activity, a timer or a client
    // call is a bug (the samples' rule), and so is a promise where a callback's result is ignored.
    files: ['src/**/*.ts'],
    languageOptions: {
      parserOptions: {
        // The lint test (test/unit/workflow-lint.test.ts) lints probes given on stdin under this name.
        projectService: { allowDefaultProject: ['src/workflows/probe.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/api/**/*.ts', 'bench/peer-workflows/**/*.ts'],
    rules: sandboxFence,
  },
  {
    // The one place workflow code reads the clock (deterministic in the sandbox: see the file).
    files: ['src/workflows/clock.ts'],
    rules: fenceExcept('clock'),
  },
  {
    // The one place workflow code calls patched(): the registry, each patch with its history.
    files: ['src/workflows/patches.ts'],
    rules: fenceExcept('patched'),
  },
  {
    // Test workflows are bundled into the sandbox too.
    files: ['test/support/workflows/**/*.ts'],
    rules: sandboxFence,
  },
  {
    files: ['test/support/workflows/smoke.ts'],
    // The smoke workflow reads Date.now() on purpose: it proves time skipped.
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // The ops page: ES modules for the browser, type-checked by tsc (checkJs, src/ops/public/tsconfig.json)
    // rather than by type-aware lint. ESLint's and typescript-eslint's recommended rules, browser globals.
    files: ['src/ops/public/**/*.js'],
    // typescript-eslint's first: extended here, its TypeScript-only part (core rules such as no-undef off)
    // would apply to these files too, and ESLint's own recommended set turns them back on.
    extends: [tseslint.configs.recommended, js.configs.recommended, tseslint.configs.disableTypeChecked],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser },
    rules: {
      // typescript-eslint's version (configured above) covers it.
      'no-unused-vars': 'off',
    },
  },
);
