// Why an answer ended (issue 11, issue 13), in the gateway's words; each dialect maps it to its
// own (OpenAI `finish_reason`, Anthropic `stop_reason`). `canceled` never reaches a finished
// answer body: a canceled task has no complete answer to describe.

export const CHAT_FINISH_REASONS = ['stop', 'length', 'tool_calls', 'content_filter', 'canceled'] as const;
export type ChatFinishReason = (typeof CHAT_FINISH_REASONS)[number];

/** The reasons a completed answer can carry. */
export type AnswerFinishReason = Exclude<ChatFinishReason, 'canceled'>;
