// Ollama `GET /api/version` and `GET /api/tags` → engine facts (ENGINES.md §5). Pure. Tags list
// pulled models as `name:tag`; a configured name without a tag means `:latest`.

import { isRecord, stringField } from '../../transport/json-fields.ts';

export function decodeOllamaVersion(value: unknown): string | undefined {
  return isRecord(value) ? stringField(value, 'version') : undefined;
}

/** The pulled model names (`models[].name`, else `.model`); undefined when the document is not a list. */
export function decodeOllamaTags(value: unknown): string[] | undefined {
  if (!isRecord(value) || !Array.isArray(value['models'])) return undefined;
  return value['models'].filter(isRecord).flatMap((m) => {
    const name = stringField(m, 'name') ?? stringField(m, 'model');
    return name === undefined ? [] : [name];
  });
}

export function hasModel(listed: readonly string[], model: string): boolean {
  const wanted = model.includes(':') ? model : `${model}:latest`;
  return listed.some((name) => name === model || name === wanted);
}
