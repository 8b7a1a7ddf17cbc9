// `npm run gen`: regenerates every contract-derived file. `--check`: regenerates in memory and
// exits 1 naming each file that would change (CI). Output is deterministic: no timestamps,
// key order from the sources.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadMergedDocument } from './gen-openapi.ts';
import { renderApiTypes } from './gen-types.ts';
import { renderRoutes } from './gen-routes.ts';
import { renderConfigSchema } from './gen-config.ts';

export const ROOT = join(import.meta.dirname, '..');

/** Every generated file: repository-relative path → content. */
export async function renderAll(root: string = ROOT): Promise<Map<string, string>> {
  const doc = loadMergedDocument(root);
  return new Map([
    ['src/generated/openapi.json', `${JSON.stringify(doc, null, 2)}\n`],
    ['src/generated/api-types.ts', await renderApiTypes(doc)],
    ['src/generated/routes.ts', renderRoutes(doc)],
    ['contracts/schemas/config.schema.json', renderConfigSchema()],
  ]);
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Paths whose committed content differs from what the generator produces. */
export async function staleFiles(root: string = ROOT): Promise<string[]> {
  const files = await renderAll(root);
  return [...files].filter(([path, content]) => readOrNull(join(root, path)) !== content).map(([path]) => path);
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--check')) {
    const stale = await staleFiles();
    for (const path of stale) console.error(`gen --check: ${path} is out of date; run \`npm run gen\` and commit it`);
    if (stale.length === 0) console.log('gen --check: all generated files are up to date');
    return stale.length === 0 ? 0 : 1;
  }
  for (const [path, content] of await renderAll()) {
    const target = join(ROOT, path);
    if (readOrNull(target) === content) continue;
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    console.log(`gen: wrote ${path}`);
  }
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`gen: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}
