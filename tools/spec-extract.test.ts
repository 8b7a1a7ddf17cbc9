// ORCH-0013: requirements/index.yaml and COMPLIANCE.md are generated deterministically from the
// spec, the contract and the tests, are committed up to date, and the check fails for a MUST
// without a citing test unless it is pending with an issue. Fixture ids are built at run time
// so this file never cites an id that is not in the spec.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './gen.ts';
import type { JsonObject } from './gen-openapi.ts';
import { COMPLIANCE_FILE, INDEX_FILE, renderTraceability, runSpecExtract } from './spec-extract.ts';

const id = (n: number) => ['ORCH', String(n).padStart(4, '0')].join('-');
const MUST = id(9001);
const SHOULD = id(9002);
const OTHER_MUST = id(9003);
const doc: JsonObject = { paths: { '/things': { get: { operationId: 'listThings', 'x-req-id': [MUST, SHOULD] } } } };

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

/** A tree with a two-section spec, one source and one test citing the first MUST. */
function fixture(): string {
  const root = mkdtempSync(join(tmpdir(), 'orchqueue-spec-'));
  roots.push(root);
  write(root, 'specs/orchestrator-spec.md', [
    '# Spec', '', '## Things (x)', '',
    `- **${MUST}** (MUST) Things are listed.`,
    `- **${SHOULD}** (SHOULD) Things are sorted.`,
    '', '## Other things', '',
    `- **${OTHER_MUST}** (MUST NOT) Other things never leak | ever.`, '',
  ].join('\n'));
  write(root, 'src/things.ts', `// ${MUST}: the handler\nexport {};\n`);
  write(root, 'test/things.test.ts', `it('${MUST} lists things', () => {});\n// ${OTHER_MUST}\n`);
  return root;
}

describe('spec-extract on the repository', () => {
  it('finds the committed index and COMPLIANCE.md up to date and every MUST cited or pending', () => {
    const { files, problems } = renderTraceability(ROOT);
    expect(problems).toEqual([]);
    for (const [path, content] of files) expect(readFileSync(join(ROOT, path), 'utf8'), `${path} is stale: run npm run gen`).toBe(content);
  });

  it('renders the same bytes twice', () => {
    expect(renderTraceability(ROOT).files).toEqual(renderTraceability(ROOT).files);
  });
});

describe('spec-extract on a fixture tree', () => {
  it('indexes every requirement with title, section and level, sorted by id', () => {
    const index = parse(renderTraceability(fixture(), doc).files.get(INDEX_FILE) ?? '') as Record<string, unknown>;
    expect(Object.keys(index)).toEqual([MUST, SHOULD, OTHER_MUST]);
    expect(index[MUST]).toEqual({ title: 'Things are listed.', section: 'Things (x)', level: 'MUST' });
    expect(index[OTHER_MUST]).toEqual({ title: 'Other things never leak | ever.', section: 'Other things', level: 'MUST NOT' });
  });

  it('lists per id the operations, the citing tests and the mentioning sources', () => {
    const root = fixture();
    const { files, problems } = renderTraceability(root, doc);
    expect(problems).toEqual([]);
    const compliance = files.get(COMPLIANCE_FILE) ?? '';
    expect(compliance).toContain(`| ${MUST} | MUST | tested | Things are listed. | \`listThings (GET /things)\` | \`test/things.test.ts\` | \`src/things.ts\` |`);
    expect(compliance).toContain(`| ${SHOULD} | SHOULD | not tested | Things are sorted. | \`listThings (GET /things)\` | — | — |`);
    expect(compliance).toContain('Other things never leak \\| ever.');
    expect(compliance).toContain('MUST requirements: 2; cited by a test: 2; pending: 0.');
  });

  it('fails a MUST without a citing test, and accepts it once pending with an issue', () => {
    const root = fixture();
    write(root, 'test/things.test.ts', `it('lists things', () => {});\n// ${OTHER_MUST}\n`);
    expect(renderTraceability(root, doc).problems).toEqual([expect.stringContaining(`${MUST} (MUST) has no test citing it`)]);
    write(root, 'requirements/pending.yaml', `- id: ${MUST}\n  issue: 42\n  why: not built yet\n`);
    const { files, problems } = renderTraceability(root, doc);
    expect(problems).toEqual([]);
    expect(files.get(COMPLIANCE_FILE)).toContain(`| ${MUST} | MUST | pending (#42) |`);
    expect(files.get(COMPLIANCE_FILE)).toContain(`| ${MUST} | #42 | not built yet |`);
  });

  it('refuses a pending entry that a test already cites, one that is not a MUST, and an unknown one', () => {
    const root = fixture();
    write(root, 'requirements/pending.yaml', [MUST, SHOULD, id(9999)].map((x) => `- { id: ${x}, issue: 1, why: later }`).join('\n'));
    const { problems } = renderTraceability(root, doc);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringContaining(`${MUST} is now cited by test/things.test.ts; remove it`),
      expect.stringContaining(`${SHOULD} is SHOULD`),
      expect.stringContaining(`${id(9999)} is not in specs/orchestrator-spec.md`),
    ]));
  });

  it('refuses ids that the spec does not define, wherever they are mentioned', () => {
    const root = fixture();
    write(root, 'test/typo.test.ts', `it('${id(9100)} typo', () => {});\n`);
    write(root, 'src/typo.ts', `// ${id(9101)}\n`);
    const withOp: JsonObject = { paths: { '/x': { post: { operationId: 'makeX', 'x-req-id': [id(9102)] } } } };
    const { problems } = renderTraceability(root, withOp);
    expect(problems.filter((p) => p.includes('not defined in'))).toHaveLength(3);
  });

  it('refuses a malformed requirement line and a duplicate id instead of skipping them', () => {
    const root = fixture();
    write(root, 'specs/orchestrator-spec.md', `## S\n\n- **${MUST}** (MUSTN'T) bad level\n`);
    expect(() => renderTraceability(root, doc)).toThrow(/not of the form/);
    write(root, 'specs/orchestrator-spec.md', `## S\n\n- **${MUST}** (MUST) one\n- **${MUST}** (MAY) two\n`);
    expect(() => renderTraceability(root, doc)).toThrow(/defined twice/);
  });

  it('--check exits 1 and writes nothing when a file is stale; a write then makes the check pass', () => {
    const root = fixture();
    write(root, 'contracts/openapi/data.yaml', 'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n');
    write(root, 'contracts/openapi/control.yaml', 'openapi: 3.1.0\ninfo: { title: t, version: "1" }\npaths: {}\n');
    const quiet = { error: console.error, log: console.log };
    console.error = () => {};
    console.log = () => {};
    try {
      expect(runSpecExtract(['--check'], root)).toBe(1);
      expect(() => readFileSync(join(root, COMPLIANCE_FILE))).toThrow();
      expect(runSpecExtract([], root)).toBe(0);
      expect(runSpecExtract(['--check'], root)).toBe(0);
      write(root, 'test/things.test.ts', `it('lists things', () => {});\n// ${OTHER_MUST}\n`);
      expect(runSpecExtract(['--check'], root)).toBe(1);
    } finally {
      Object.assign(console, quiet);
    }
  });
});
