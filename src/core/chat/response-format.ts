// Canonical response format (issue 11, issue 13): free text, any JSON object, or JSON that
// matches a named schema (OpenAI `response_format`). Anthropic has no equivalent field.

import type { JsonSchemaObject } from './tool.ts';

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: JsonSchemaObject; description?: string; strict?: boolean };
