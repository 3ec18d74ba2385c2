// @ts-check
import { builtinModules } from 'node:module';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Only rules that catch bugs or hold the layering; layout is Prettier's job.
export default defineConfig(
  // clients/python is Python: ruff checks it (see clients/python/README.md).
  { ignores: ['node_modules/', 'dist/', '.tools/', '.data/', 'clients/python/'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    settings: {
      // import-x reads only .js files unless told otherwise, so no-cycle would see no edges.
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver()],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test tracks the promises its test() and describe() return; no caller awaits them.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'suite', 'test'] }] },
      ],
      // Inline `type` in mixed imports, as the code already writes them.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // Cycles through node_modules are not ours to fix, and walking them triples the run time.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // Workflow code is replayed and must be deterministic: it may import @temporalio/workflow,
    // @temporalio/common, pure domain/ modules and its siblings, and only the types of anything else.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...builtinModules.map((name) => ({
              name,
              message: 'Node built-ins are not deterministic and do not exist in the workflow sandbox.',
            })),
            ...['pino', 'pg', 'openai', '@anthropic-ai/sdk', '@google/genai', 'express', 'busboy'].map((name) => ({
              name,
              message: 'Workflows do no I/O; call an activity instead.',
            })),
            ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'].map((name) => ({
              name,
              message: 'Workflows import only @temporalio/workflow and @temporalio/common.',
            })),
          ],
          patterns: [
            { group: ['node:*'], message: 'Node built-ins are not deterministic and do not exist in the workflow sandbox.' },
            {
              group: [
                '**/api/**',
                '**/store/**',
                '**/providers/**',
                '**/activities/**',
                '**/workers/**',
                '**/emulator/**',
                '**/stack/**',
                '**/config/**',
                '**/cli/**',
                '**/client/**',
              ],
              allowTypeImports: true,
              message: 'Workflows may import only the types of Node-side code (import type).',
            },
          ],
        },
      ],
    },
  },
);
