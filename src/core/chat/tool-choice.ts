// Canonical tool choice (issue 11, issue 13): OpenAI `auto|none|required|{function}` and
// Anthropic `auto|any|tool|none` are the same four ideas.

export type ToolChoice =
  | { type: 'auto' }
  | { type: 'none' }
  /** The model must call some tool (OpenAI `required`, Anthropic `any`). */
  | { type: 'required' }
  /** The model must call this tool (OpenAI `{type:"function",function:{name}}`, Anthropic `{type:"tool",name}`). */
  | { type: 'tool'; name: string };
