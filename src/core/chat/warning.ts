// Warnings: facts about a request the gateway changed or could not honour exactly and still
// served, attached to the task instead of failing it (issue 13: handoff rewrites, missing
// prices). Silent changes are forbidden; every rewrite leaves one of these.

export const WARNING_CODES = [
  /** A dialect field with no counterpart on the target was left out (named in `field`). */
  'field_not_forwarded',
  /** A role was sent under another name the target knows (e.g. developer → system). */
  'role_renamed',
  /** No price is configured for the model, so no cost was computed. */
  'price_missing',
  /** Handoff (core/chat/handoff.ts): a content part the target cannot take was replaced by a placeholder. */
  'part_dropped',
  /** Handoff: a tool call or result was sent as text to a target without tools. */
  'tool_turn_as_text',
  /** Handoff: a tool-call id the target refuses was rewritten (consistently in calls and results). */
  'tool_call_id_rewritten',
  /** Handoff: consecutive turns of one side were merged for a target that alternates turns. */
  'turns_merged',
  /** Handoff: a placeholder user turn was put first for a target that starts with the user. */
  'turn_inserted',
] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export interface ChatWarning {
  code: WarningCode;
  message: string;
  /** The request field concerned, in the client's dialect where known. */
  field?: string;
}
