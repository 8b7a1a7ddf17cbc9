// vLLM `GET /version` and `GET /v1/models` → engine facts (ENGINES.md §2). Pure. vLLM does not
// report a slot count: the registry/options supply `max_num_seqs` instead.

import { isRecord, numberField, stringField } from '../../transport/json-fields.ts';

export function decodeVllmVersion(value: unknown): string | undefined {
  return isRecord(value) ? stringField(value, 'version') : undefined;
}

/** The served model card matching `model` (else the only/first one) with its `max_model_len`. */
export function decodeVllmModel(value: unknown, model: string): { model: string; ctxMax: number } | undefined {
  if (!isRecord(value) || !Array.isArray(value['data'])) return undefined;
  const cards = value['data'].filter(isRecord);
  const card = cards.find((c) => c['id'] === model) ?? cards[0];
  if (card === undefined) return undefined;
  const ctxMax = numberField(card, 'max_model_len');
  const id = stringField(card, 'id');
  return ctxMax === undefined || id === undefined ? undefined : { model: id, ctxMax };
}
