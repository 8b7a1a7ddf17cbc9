// A conversation as one flat text (issue 11): what prompt-size admission checks measure and
// what the mock engine seeds its tokens from. Not an engine prompt: engines apply their own
// chat templates. Images count by their URL or data, so a different image changes the text.

import type { ContentPart } from './content.ts';
import type { ValidConversation } from './conversation.ts';

function partText(part: ContentPart): string {
  if (part.type === 'text') return part.text;
  return part.source.kind === 'url' ? `[image ${part.source.url}]` : `[image ${part.source.mediaType} ${part.source.data}]`;
}

export function conversationText(conversation: ValidConversation): string {
  const lines: string[] = [];
  for (const m of conversation.messages) {
    const body = m.content.map(partText).join('');
    if (m.role === 'assistant') {
      const calls = m.toolCalls.map((c) => ` [call ${c.id} ${c.name} ${c.arguments}]`).join('');
      lines.push(`assistant: ${body}${calls}`);
    } else if (m.role === 'tool') {
      lines.push(`tool ${m.toolCallId}: ${body}`);
    } else {
      lines.push(`${m.role}: ${body}`);
    }
  }
  return lines.join('\n');
}
