// The tamper-evidence rule, in one place: hash = sha256(prev_hash + canonical JSON (RFC 8785) of
// the row's content), content being every column except prev_hash and hash. Changing this breaks
// every stored chain, so it is versioned by migration, never edited; fixtures/chain-v1.json holds it.
// The `chain` column (migrations/0004) is in the content only for chains other than the default
// one, so every row written before chains existed keeps its hash.

import { hash as digest } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.ts';
import type { AuditRecord, AuditRow } from './records.ts';

/** prev_hash of seq 1: the chain's fixed origin. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The chain of a single writer (PGlite, or server Postgres with state.backend memory), and of every
 * row written before migrations/0004. Its rows' content leaves `chain` out.
 */
export const DEFAULT_CHAIN = 'main';

export interface ChainHead {
  /** seq of the last row; 0 before the first row. */
  seq: number;
  hash: string;
}

export const GENESIS_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

export function rowContent(seq: number, record: AuditRecord, chain: string = DEFAULT_CHAIN): Record<string, unknown> {
  return {
    seq, at: record.at.toISOString(), kind: record.kind, task_id: record.task_id, session_id: record.session_id,
    pool_id: record.pool_id, actor: record.actor, correlation_id: record.correlation_id, data: record.data,
    ...(chain === DEFAULT_CHAIN ? {} : { chain }),
  };
}

/** A row placed in the chain, with the exact bytes its hash covers (the stores insert from them). */
export interface ChainedRow extends AuditRow {
  content: string;
}

/**
 * A string's RFC 8785 text: its JSON.stringify text when well-formed (a lone surrogate is refused
 * by canonicalJson). Ids and names need no escape, so they are quoted as they are after one scan:
 * each JSON.stringify is a runtime call, and a row has some 30 strings (issue 14).
 */
function jsonText(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    // Control characters, '"', '\\' and surrogates (paired or not) take the general path.
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) {
      return value.isWellFormed() ? JSON.stringify(value) : canonicalJson(value);
    }
  }
  return `"${value}"`;
}

const textOrNull = (value: string | null): string => (value === null ? 'null' : jsonText(value));

/** Whether keys are already in RFC 8785 order (UTF-16 code units, what `sort()` gives): records.ts writes them so. */
function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}

/**
 * canonicalJson(data) for the flat data of the usual rows (every member a string, a finite number,
 * a boolean or null): RFC 8785 writes those exactly as JSON.stringify does, so only the key sort is
 * left, without the general encoder's frames and cycle set (one call per audit row, issue 14).
 * Anything else (a nested array, a non-finite number) takes the general path, which encodes or
 * refuses it as before.
 */
function dataJson(data: AuditRecord['data']): string {
  const keys = Object.keys(data);
  if (!isSorted(keys)) keys.sort();
  let text = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = data[key];
    let member: string;
    // jsonText refuses a lone surrogate in a key or value as the general encoder does.
    if (typeof value === 'string') member = jsonText(value);
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return canonicalJson(data);
      // ECMAScript's Number-to-String, which RFC 8785 §3.2.2.3 prescribes (-0 is "0").
      member = String(value);
    } else if (typeof value === 'boolean') member = value ? 'true' : 'false';
    else if (value === null) member = 'null';
    else return canonicalJson(data);
    text += `${i === 0 ? '' : ','}${jsonText(key)}:${member}`;
  }
  return `${text}}`;
}

const isTextOrNull = (value: unknown): value is string | null => value === null || typeof value === 'string';

/**
 * canonicalJson(rowContent(seq, record)), byte for byte, without building the object and sorting
 * its keys: the literal below lists them in canonical order. Rows that do not have the usual
 * shape (read back from an export, say) take the general path, so the two can never disagree.
 */
export function rowContentJson(seq: number, record: AuditRecord, chain: string = DEFAULT_CHAIN): string {
  const { actor, correlation_id: correlation, pool_id: pool, session_id: session, task_id: task } = record;
  if (!isTextOrNull(actor) || !isTextOrNull(correlation) || !isTextOrNull(pool) || !isTextOrNull(session) || !isTextOrNull(task) || typeof record.kind !== 'string') {
    return canonicalJson(rowContent(seq, record, chain));
  }
  const chainMember = chain === DEFAULT_CHAIN ? '' : `"chain":${canonicalJson(chain)},`;
  return `{"actor":${textOrNull(actor)},"at":"${record.at.toISOString()}",${chainMember}"correlation_id":${textOrNull(correlation)},"data":${dataJson(record.data)},`
    + `"kind":${textOrNull(record.kind)},"pool_id":${textOrNull(pool)},"seq":${Number.isFinite(seq) ? String(seq) : canonicalJson(seq)},"session_id":${textOrNull(session)},"task_id":${textOrNull(task)}}`;
}

// sha256 over the UTF-8 of prev_hash followed by the content; the one-shot form skips a Hash object per row.
function contentHash(prevHash: string, content: string): string {
  return digest('sha256', prevHash + content, 'hex');
}

export function rowHash(prevHash: string, seq: number, record: AuditRecord, chain: string = DEFAULT_CHAIN): string {
  return contentHash(prevHash, rowContentJson(seq, record, chain));
}

/** Places records after `head` of `chain`, in order, and returns the rows plus the new head. */
export function chainRecords(head: ChainHead, records: readonly AuditRecord[], chain: string = DEFAULT_CHAIN): { rows: ChainedRow[]; head: ChainHead } {
  const rows: ChainedRow[] = [];
  let { seq, hash } = head;
  for (const record of records) {
    seq += 1;
    const content = rowContentJson(seq, record, chain);
    const next = contentHash(hash, content);
    rows.push({ ...record, chain, seq, prev_hash: hash, hash: next, content });
    hash = next;
  }
  return { rows, head: { seq, hash } };
}
