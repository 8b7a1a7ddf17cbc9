// How the CLI prints: JSON for --json, otherwise readable `key: value` lines and tables.
// Results go to stdout, diagnostics to stderr, so `orchqueue submit | …` pipes only results.

import type { AuditVerifyResult, ModelList, PoolDetail, PoolSummary } from './client.ts';

export interface Output {
  json: boolean;
  /** Writes to stdout as is (tokens as they arrive). */
  write(text: string): void;
  /** Writes one line to stderr. */
  note(text: string): void;
}

export function processOutput(json: boolean, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Output {
  return { json, write: (text) => void stdout.write(text), note: (text) => void stderr.write(`${text}\n`) };
}

function flatten(value: unknown, prefix: string, into: [string, string][]): void {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) into.push([prefix, value.join(', ')]);
    else value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, into));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${key}` : key, into);
  } else {
    into.push([prefix, String(value)]);
  }
}

/** A result: JSON with --json, else one `key: value` line per leaf field. */
export function printResult(out: Output, value: unknown): void {
  if (out.json) {
    out.write(`${JSON.stringify(value)}\n`);
    return;
  }
  const rows: [string, string][] = [];
  flatten(value, '', rows);
  out.write(rows.map(([k, v]) => `${k}: ${v}\n`).join(''));
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function printPools(out: Output, pools: PoolSummary[]): void {
  if (out.json) {
    out.write(`${JSON.stringify({ pools })}\n`);
    return;
  }
  const rows = pools.map((p) => [
    p.id, p.engine, p.model, p.ready ? 'yes' : 'no', p.draining ? 'yes' : 'no',
    `${p.slots.busy}/${p.slots.total}`, `${p.queue.depth}/${p.queue.max_queued}`, p.queue.policy, p.last_error ?? '',
  ]);
  out.write(table(['POOL', 'ENGINE', 'MODEL', 'READY', 'DRAINING', 'SLOTS', 'QUEUE', 'POLICY', 'LAST ERROR'], rows));
}

/** The catalog: with --json `{ models: [{ id, ...catalog fields }] }`, else one table row per model. */
export function printModels(out: Output, list: ModelList): void {
  const models = list.data.map((m) => ({ id: m.id, ...m.orchqueue }));
  if (out.json) {
    out.write(`${JSON.stringify({ models })}\n`);
    return;
  }
  const price = (n: number | undefined) => (n === undefined ? '' : String(n));
  const rows = models.map((m) => [
    m.id, m.served === false ? 'no' : 'yes', m.pool_id ?? m.listed_by ?? '', m.engine ?? '', m.context_length === undefined ? '' : String(m.context_length),
    price(m.pricing?.input_per_mtok), price(m.pricing?.output_per_mtok), m.source ?? '', m.alias_of ?? m.description ?? '',
  ]);
  out.write(table(['MODEL', 'SERVED', 'POOL', 'ENGINE', 'CONTEXT', 'IN $/MTOK', 'OUT $/MTOK', 'SOURCE', 'ALIAS OF / DESCRIPTION'], rows));
}

export function printPool(out: Output, pool: PoolDetail): void {
  if (out.json) {
    out.write(`${JSON.stringify(pool)}\n`);
    return;
  }
  const { replicas, ...summary } = pool;
  printResult(out, summary);
  const rows = replicas.map((r) => [
    r.id, r.state, r.engine_version ?? '', String(r.ctx_max ?? ''), `${r.slots_busy}/${r.slots_total}`, r.breaker, r.last_error ?? '',
  ]);
  out.write(`\n${table(['REPLICA', 'STATE', 'VERSION', 'CTX', 'SLOTS', 'BREAKER', 'LAST ERROR'], rows)}`);
}

/**
 * `audit verify`: the verdict on the whole log as `key: value` lines, then one table row per
 * chain (one per gateway replica writing to the database). An answer without `chains` (a gateway
 * from before chains) prints the lines alone.
 */
export function printAuditVerification(out: Output, result: AuditVerifyResult): void {
  const { chains, ...summary } = result;
  printResult(out, out.json ? result : summary);
  if (out.json || chains === undefined || chains.length === 0) return;
  const rows = chains.map((c) => [
    c.chain, c.ok ? 'yes' : 'no', String(c.rows), c.head_seq === undefined ? '' : String(c.head_seq), c.head_hash ?? '',
    c.first_bad_seq === undefined ? '' : String(c.first_bad_seq), c.reason ?? '',
  ]);
  out.write(`\n${table(['CHAIN', 'OK', 'ROWS', 'HEAD SEQ', 'HEAD HASH', 'FIRST BAD SEQ', 'REASON'], rows)}`);
}
