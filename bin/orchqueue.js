#!/usr/bin/env node
// The `orchqueue` command. The package runs TypeScript directly on Node >= 22.18 (type
// stripping), so this shim checks the runtime and loads the CLI; all behaviour lives in src/cli/.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `orchqueue needs Node.js >= 22.18 (this is ${process.version}). From a checkout, run it with the\n` +
      `project's pinned Node: \`npx orchqueue …\` (after \`npm ci\`), or put node_modules/.bin first on PATH.\n`,
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
await main();
