// Lint rules. The layering (who may import whom, cycles, what ships) is checked by
// dependency-cruiser (.dependency-cruiser.mjs, `npm run deps`); the core guard below only gives
// the same verdict early, in the editor. Generated code is never linted (regeneration checks it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'src/generated/', 'coverage/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', Buffer: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['fastify', 'undici', 'pg', '@electric-sql/*', 'pino', 'prom-client', '@opentelemetry/*', 'node:fs', 'node:net', 'node:http', 'node:worker_threads'], message: 'core is pure: no I/O imports (ARCHITECTURE §1).' },
          { group: ['../api/*', '../pool/*', '../adapters/*', '../audit/*', '../telemetry/*', '../../api/*', '../../pool/*', '../../adapters/*', '../../audit/*', '../../telemetry/*'], message: 'dependencies point inward: core imports nothing from the shell.' },
        ],
      }],
    },
  },
);
