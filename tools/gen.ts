// `npm run gen`: regenerates every contract-derived file. `--check`: regenerates in memory and
// exits 1 naming each file that would change (CI). Output is deterministic: no timestamps,
// key order from the sources.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadMergedDocument } from './gen-openapi.ts';
import { renderApiTypes, renderEnums } from './gen-types.ts';
import { renderRoutes } from './gen-routes.ts';
import { renderConfigSchema } from './gen-config.ts';
import { runSpecExtract } from './spec-extract.ts';

export const ROOT = join(import.meta.dirname, '..');
// The generator owns this folder: a file in it that it does not produce is stale.
const GENERATED_DIR = 'src/generated';

/** Every generated file: repository-relative path → content. */
export async function renderAll(root: string = ROOT): Promise<Map<string, string>> {
  const doc = loadMergedDocument(root);
  return new Map([
    ['src/generated/openapi.json', `${JSON.stringify(doc, null, 2)}\n`],
    ['src/generated/api-types.ts', await renderApiTypes(doc)],
    ['src/generated/enums.ts', renderEnums(doc)],
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

/** Files in src/generated/ that the generator does not produce. */
function strayFiles(root: string, produced: Map<string, string>): string[] {
  const dir = join(root, GENERATED_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .filter((path) => !produced.has(path))
    .sort();
}

/** Paths whose committed content differs from what the generator produces, then stray files. */
export async function staleFiles(root: string = ROOT): Promise<string[]> {
  const files = await renderAll(root);
  const changed = [...files].filter(([path, content]) => readOrNull(join(root, path)) !== content).map(([path]) => path);
  return [...changed, ...strayFiles(root, files)];
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--check')) {
    const stale = await staleFiles();
    for (const path of stale) console.error(`gen --check: ${path} would change (or is not generated); run \`npm run gen\` and commit the result`);
    if (stale.length === 0) console.log('gen --check: all generated files are up to date');
    return stale.length === 0 ? 0 : 1;
  }
  const files = await renderAll();
  for (const [path, content] of files) {
    const target = join(ROOT, path);
    if (readOrNull(target) === content) continue;
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    console.log(`gen: wrote ${path}`);
  }
  for (const path of strayFiles(ROOT, files)) {
    rmSync(join(ROOT, path));
    console.log(`gen: removed ${path} (not generated)`);
  }
  return 0;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  // The traceability files (requirements/index.yaml, COMPLIANCE.md) are generated and checked too.
  main(args).then((code) => Math.max(code, runSpecExtract(args, ROOT))).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`gen: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}
