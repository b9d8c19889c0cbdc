import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '__tests__/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // core/ is the pure planner: it must never reach the disk, processes, network or CI platform.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:fs*', 'fs', 'fs/*', 'node:child_process', 'child_process'],
              message: 'core/ is pure: do I/O in adapters/',
            },
            {
              group: ['@actions/*', '@aws-sdk/*', 'node:net', 'node:http*', 'node:os'],
              message: 'core/ is pure: effects live outside core/',
            },
            {
              group: ['../adapters/*', '../host/*', '../builders/*', '../registry/*'],
              message: 'core/ must not import effects',
            },
          ],
        },
      ],
    },
  },
);
