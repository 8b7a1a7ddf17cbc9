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
] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export interface ChatWarning {
  code: WarningCode;
  message: string;
  /** The request field concerned, in the client's dialect where known. */
  field?: string;
}
