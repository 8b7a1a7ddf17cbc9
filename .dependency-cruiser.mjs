// The architecture's "never" rules as a checked import graph (docs/architecture.md, "Layering"):
// `npm run deps` cruises src/ and fails on any edge below. Unit tests (*.test.ts) are left out of
// the graph: they may reach test/fakes/ and tools/, and they never ship. tools/layering.test.ts
// proves each rule catches a violation and that the real tree passes.

/** Node built-ins core may use: computation only, no I/O, no timers of their own. */
const CORE_BUILTINS = ['crypto', 'util', 'assert'];
/** npm packages core may use: pure computation only. Add one here, with the reason, before importing it. */
const CORE_PACKAGES = [
  'canonicalize', // RFC 8785 canonical JSON: string building, no I/O
  'lru-cache', // a bounded map; time comes from core's injected clock (ttlResolution 0), no timers
];

/** Modules that start a process or a thread: everything else in src/ must be reachable from one. */
const ENTRY_POINTS = ['^src/main\\.ts$', '^src/cli/main\\.ts$', '^src/audit/pglite-worker\\.ts$'];

const CONFIG_MAY_IMPORT = '^src/(config|core|generated)/';

export default {
  forbidden: [
    {
      name: 'core-imports-only-core',
      comment: 'src/core/ is the pure domain: it imports only src/core/ and whitelisted pure packages (ARCHITECTURE §1).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: {
        dependencyTypesNot: ['core'],
        pathNot: ['^src/core/', ...CORE_PACKAGES.map((name) => `^node_modules/${name}/`)],
      },
    },
    {
      name: 'core-does-no-io',
      comment: 'src/core/ uses no Node built-in that does I/O (fs, net, http, timers, worker_threads, ...).',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], pathNot: `^(node:)?(${CORE_BUILTINS.join('|')})$` },
    },
    {
      name: 'config-is-a-leaf',
      comment: 'src/config/ imports only core, generated and itself (plus parsing libraries): everything else reads config, never the reverse.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: CONFIG_MAY_IMPORT },
    },
    {
      name: 'routes-never-import-adapters',
      comment: 'src/api/ reaches engines only through the task service and pools, never an adapter.',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'adapters-never-import-the-shell',
      comment: 'An adapter translates one engine; it knows nothing of pools, routes or the task runtime.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(pool|api|orchestration)/' },
    },
    {
      name: 'observers-read-facts-only',
      comment: 'src/audit/ and src/telemetry/ observe lifecycle facts; they never drive tasks, routes or engines.',
      severity: 'error',
      from: { path: '^src/(audit|telemetry)/' },
      to: { path: '^src/(orchestration|api|adapters)/', pathNot: '^src/adapters/contract\\.ts$' },
    },
    {
      name: 'observers-read-facts-only',
      comment:
        'The engine scraper names the adapter port (WorkerAdapter.metricsText) by type only; a value import of the adapter contract is still refused.',
      severity: 'error',
      from: { path: '^src/(audit|telemetry)/' },
      to: { path: '^src/adapters/contract\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'src-ships-alone',
      comment: 'What ships never imports test/, bench/, tools/ or ci/ (fakes, kits and lints live there).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|tools|ci)/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles in src/.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'src-holds-only-what-ships',
      comment: 'Every module in src/ is reachable from an entry point; one only tests use belongs in test/ or tools/.',
      severity: 'error',
      from: { path: ENTRY_POINTS },
      to: {
        path: '^src/',
        // ndjson-parser: unused product code kept for an Ollama adapter (NDJSON framing); reported in issue 9.
        pathNot: [...ENTRY_POINTS, '^src/transport/ndjson-parser\\.ts$'],
        reachable: false,
      },
    },
  ],
  options: {
    // Unit tests sit beside their modules but are not part of the product graph.
    exclude: { path: '\\.test\\.ts$' },
    doNotFollow: { path: '^node_modules/' },
    // `import type` edges count: a type-only import still couples the layers.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
