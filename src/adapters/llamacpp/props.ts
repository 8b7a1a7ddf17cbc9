// llama.cpp `GET /props` and `GET /slots` → engine facts (ENGINES.md §1). Pure and tolerant:
// `build_info` is missing on old builds (version "unknown"), `n_ctx` moved between builds.

import type { EngineProps } from '../contract.ts';
import { isRecord, numberField, recordField, stringField } from '../../transport/json-fields.ts';

export type LlamacppProps = Omit<EngineProps, 'slotsFree'>;

/** undefined when the document has no context size: the engine cannot be sized without it. */
export function decodeLlamacppProps(value: unknown, fallbackModel: string): LlamacppProps | undefined {
  if (!isRecord(value)) return undefined;
  const settings = recordField(value, 'default_generation_settings');
  const ctxMax = (settings && numberField(settings, 'n_ctx')) ?? numberField(value, 'n_ctx');
  if (ctxMax === undefined || ctxMax <= 0) return undefined;
  const alias = stringField(value, 'model_alias');
  const path = stringField(value, 'model_path');
  return {
    engineVersion: stringField(value, 'build_info') ?? 'unknown',
    model: alias !== undefined && alias.length > 0 ? alias : path !== undefined && path.length > 0 ? path : fallbackModel,
    ctxMax,
    slotsTotal: numberField(value, 'total_slots') ?? 1,
    // Same (prompt, seed, slot config) → same tokens on replicas of one build.
    deterministic: true,
  };
}

/** Idle slots from `/slots`; undefined when the document is not a slot list. */
export function decodeSlotsFree(value: unknown): number | undefined {
  if (!Array.isArray(value)) return undefined;
  let free = 0;
  for (const slot of value) if (isRecord(slot) && slot['is_processing'] === false) free++;
  return free;
}
