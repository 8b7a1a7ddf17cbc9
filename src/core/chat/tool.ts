// Canonical tools (issue 11, issue 13): what a client offers the model (definitions) and what
// the model asks for (calls). A call's `arguments` stay the JSON text the model produced, so a
// call round-trips byte for byte; the normalizer has checked it parses to an object.

export type JsonSchemaObject = Record<string, unknown>;

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object (OpenAI `parameters`, Anthropic `input_schema`). */
  parameters: JsonSchemaObject;
  /** OpenAI structured-outputs flag; absent when the client gave none. */
  strict?: boolean;
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of an object, exactly as the model wrote it. */
  arguments: string;
}

/** Tool names every dialect accepts (OpenAI's rule; Anthropic's is the same set). */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
