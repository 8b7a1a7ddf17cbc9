#!/usr/bin/env node
// The `orchqueue` command. The package runs TypeScript directly on Node >= 22.18 (type
// stripping), so this shim only loads the CLI; all behaviour lives in src/cli/.
import { main } from '../src/cli/main.ts';

await main();
