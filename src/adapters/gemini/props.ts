// Gemini `models.get` and `models.list` documents → engine facts and servable model ids
// (ai.google.dev API reference: Model, ListModelsResponse). Pure. Ids drop the `models/` prefix;
// only models that serve `generateContent` can take our requests.

import { isRecord, numberField, stringField } from '../../transport/json-fields.ts';

export interface GeminiModelCard {
  model: string;
  version: string | undefined;
  inputTokenLimit: number;
  outputTokenLimit: number | undefined;
}

const bareId = (name: string): string => name.replace(/^models\//, '');

/** undefined when the document lacks `inputTokenLimit` (not a model card). */
export function decodeGeminiModelCard(value: unknown, fallbackModel: string): GeminiModelCard | undefined {
  if (!isRecord(value)) return undefined;
  const inputTokenLimit = numberField(value, 'inputTokenLimit');
  if (inputTokenLimit === undefined) return undefined;
  return {
    model: bareId(stringField(value, 'name') ?? fallbackModel),
    version: stringField(value, 'version'),
    inputTokenLimit,
    outputTokenLimit: numberField(value, 'outputTokenLimit'),
  };
}

/** One page of `models.list`: ids that serve generateContent, and the next page's token. */
export function decodeGeminiModelPage(value: unknown): { ids: string[]; nextPageToken: string | undefined } | undefined {
  if (!isRecord(value)) return undefined;
  const models = value['models'];
  if (models !== undefined && !Array.isArray(models)) return undefined;
  const ids = (models ?? []).filter(isRecord).flatMap((m) => {
    const name = stringField(m, 'name');
    const methods = m['supportedGenerationMethods'];
    return name !== undefined && Array.isArray(methods) && methods.includes('generateContent') ? [bareId(name)] : [];
  });
  const next = stringField(value, 'nextPageToken');
  return { ids, nextPageToken: next === undefined || next === '' ? undefined : next };
}
