// The mock engine's scripted tool calls (issue 11), pure and deterministic by seed. Trigger:
// tools are given, tool_choice is not `none`, the conversation ends with a user message, and
// either tool_choice forces a call (`required` → the first tool, or the named tool) or, under
// `auto`, that user message mentions a tool by name (the first such tool in definition order).
// A conversation ending with a tool result is answered in text, so a round trip terminates.

import { textOf } from '../../core/chat/content.ts';
import type { ValidConversation } from '../../core/chat/conversation.ts';
import type { ToolDefinition } from '../../core/chat/tool.ts';
import { nextToken } from './tokens.ts';

export interface ScriptedCall {
  id: string;
  name: string;
  /** The arguments' JSON text cut into the pieces streamed one per token. */
  fragments: string[];
}

const FRAGMENT_CHARS = 8;

export function scriptedToolCall(chat: ValidConversation, taskId: string, seed: number): ScriptedCall | undefined {
  const tool = chosenTool(chat);
  if (tool === undefined) return undefined;
  const args = JSON.stringify(argumentsFor(tool, seed));
  const fragments: string[] = [];
  for (let i = 0; i < args.length; i += FRAGMENT_CHARS) fragments.push(args.slice(i, i + FRAGMENT_CHARS));
  return { id: `call_${taskId}_0`, name: tool.name, fragments };
}

function chosenTool(chat: ValidConversation): ToolDefinition | undefined {
  const last = chat.messages.at(-1);
  if (chat.tools.length === 0 || last?.role !== 'user') return undefined;
  switch (chat.toolChoice.type) {
    case 'none':
      return undefined;
    case 'required':
      return chat.tools[0];
    case 'tool': {
      const name = chat.toolChoice.name;
      return chat.tools.find((t) => t.name === name);
    }
    case 'auto': {
      const text = textOf(last.content);
      return chat.tools.find((t) => text.includes(t.name));
    }
  }
}

/** One value per declared property, by its JSON Schema type; the seed picks the values. */
function argumentsFor(tool: ToolDefinition, seed: number): Record<string, unknown> {
  const properties = tool.parameters['properties'];
  const out: Record<string, unknown> = {};
  if (typeof properties !== 'object' || properties === null) return out;
  let state = seed;
  for (const [key, schema] of Object.entries(properties)) {
    const step = nextToken(state);
    state = step.state;
    const type = typeof schema === 'object' && schema !== null ? (schema as Record<string, unknown>)['type'] /* a JSON Schema object */ : undefined;
    if (type === 'string') out[key] = step.text.trim();
    else if (type === 'integer' || type === 'number') out[key] = state % 100;
    else if (type === 'boolean') out[key] = (state & 1) === 1;
    else out[key] = null;
  }
  return out;
}
