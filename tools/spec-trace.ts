// Reads the traceability facts spec-extract renders: requirements from the spec, the OpenAPI
// operations naming them in `x-req-id`, the files that mention them, and the pending list.
// Reads only; it never decides what is a problem (spec-extract.ts does).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isObject, loadMergedDocument, type JsonObject } from './gen-openapi.ts';

export const SPEC_FILE = 'specs/orchestrator-spec.md';
export const PENDING_FILE = 'requirements/pending.yaml';
export const LEVELS = ['MUST', 'MUST NOT', 'SHOULD', 'SHOULD NOT', 'MAY'] as const;
export type Level = (typeof LEVELS)[number];

export interface Requirement {
  id: string;
  title: string;
  section: string;
  level: Level;
  withdrawn: boolean;
}

export interface PendingEntry {
  id: string;
  issue: number;
  why: string;
}

/** The id pattern; built here once so no tool file carries a literal id by accident. */
export const ID_PATTERN = /ORCH-\d{4}/g;
const REQUIREMENT_LINE = /^- \*\*(ORCH-\d{4})\*\* \((MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\) (.+)$/;
const SECTION_LINE = /^## (.+?)(?: \(ORCH-\d{4} – ORCH-\d{4}\))?\s*$/;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
// Folders never scanned for citations: installed code, build output, data, generated code
// (which only repeats the contract's x-req-id, already shown as operations).
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'coverage', '.data', 'generated']);
const SCANNED_ROOTS = ['src', 'test', 'tools', 'bench', 'bin'];

/** Requirements in spec order; throws on a duplicate id or a line that looks like one but is malformed. */
export function readRequirements(root: string): Requirement[] {
  const out: Requirement[] = [];
  const seen = new Set<string>();
  let section = '';
  for (const [n, line] of readFileSync(join(root, SPEC_FILE), 'utf8').split('\n').entries()) {
    const heading = SECTION_LINE.exec(line);
    if (heading) section = heading[1] ?? '';
    if (!line.startsWith('- **ORCH-')) continue;
    const match = REQUIREMENT_LINE.exec(line);
    if (!match) throw new Error(`${SPEC_FILE}:${n + 1}: not of the form "- **ORCH-NNNN** (LEVEL) text"`);
    const [, id = '', level = '', title = ''] = match;
    if (seen.has(id)) throw new Error(`${SPEC_FILE}:${n + 1}: ${id} is defined twice`);
    if (section === '') throw new Error(`${SPEC_FILE}:${n + 1}: ${id} is outside a section`);
    seen.add(id);
    out.push({ id, title: title.trim(), section, level: level as Level, withdrawn: /\(WITHDRAWN\)/.test(title) });
  }
  return out;
}

/** id → "operationId (METHOD /path)" for every operation whose x-req-id names it. */
export function readOperationsByReq(root: string, doc: JsonObject = loadMergedDocument(root)): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    for (const method of METHODS) {
      const op = isObject(item) ? item[method] : undefined;
      if (!isObject(op)) continue;
      const label = `${String(op.operationId)} (${method.toUpperCase()} ${path})`;
      for (const id of Array.isArray(op['x-req-id']) ? op['x-req-id'] : []) {
        const list = out.get(String(id)) ?? [];
        list.push(label);
        out.set(String(id), list);
      }
    }
  }
  return out;
}

function walk(root: string, dir: string, into: string[]): void {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return; // a scanned root that does not exist (e.g. no bench/ yet)
  }
  for (const entry of entries) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) walk(root, rel, into);
    else if (entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name)) into.push(rel);
  }
}

export interface Citations {
  /** id → test files (`*.test.ts`) whose text contains it. */
  tests: Map<string, string[]>;
  /** id → other source files whose text contains it. */
  sources: Map<string, string[]>;
}

/** Every file under the scanned roots that mentions an id, split into tests and sources, sorted. */
export function readCitations(root: string): Citations {
  const files: string[] = [];
  for (const dir of SCANNED_ROOTS) walk(root, dir, files);
  files.sort();
  const tests = new Map<string, string[]>();
  const sources = new Map<string, string[]>();
  for (const file of files) {
    const ids = new Set(readFileSync(join(root, file), 'utf8').match(ID_PATTERN) ?? []);
    const target = /\.test\.ts$/.test(file) ? tests : sources;
    for (const id of [...ids].sort()) target.set(id, [...(target.get(id) ?? []), file]);
  }
  return { tests, sources };
}

/** The pending allowlist; an absent file is an empty list, a malformed one an error. */
export function readPending(root: string): PendingEntry[] {
  let text: string;
  try {
    text = readFileSync(join(root, PENDING_FILE), 'utf8');
  } catch {
    return [];
  }
  const parsed: unknown = parse(text) ?? [];
  if (!Array.isArray(parsed)) throw new Error(`${PENDING_FILE}: expected a list of {id, issue, why}`);
  return parsed.map((raw: unknown, i) => {
    const entry = raw as Record<string, unknown> | null;
    const { id, issue, why } = entry ?? {};
    if (typeof id !== 'string' || !Number.isInteger(issue) || typeof why !== 'string' || why.trim() === '') {
      throw new Error(`${PENDING_FILE}[${i}]: needs id (string), issue (integer) and why (non-empty string)`);
    }
    return { id, issue: issue as number, why };
  });
}
