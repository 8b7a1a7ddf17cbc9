// Tool-call bookkeeping while a conversation is normalized (issue 11): every call id is used
// once, every tool result answers a call of the assistant turn just before it, and no call is
// left unanswered when the conversation moves on. Errors name the wire field given by the caller.

import { orchError, type OrchError } from '../errors.ts';

export class ToolLedger {
  /** id → wire field of the call that issued it. */
  private readonly issued = new Map<string, string>();
  /** Calls of the latest assistant turn still waiting for their result, in call order. */
  private readonly pending = new Map<string, string>();

  issue(id: string, field: string): OrchError | undefined {
    const first = this.issued.get(id);
    if (first !== undefined) return orchError('INVALID_PARAMS', `${field} "${id}" is already used by ${first}`, { field });
    this.issued.set(id, field);
    this.pending.set(id, field);
    return undefined;
  }

  answer(id: string, field: string): OrchError | undefined {
    if (this.pending.delete(id)) return undefined;
    const message = this.issued.has(id)
      ? `${field} "${id}" answers a tool call that already has a result`
      : `${field} "${id}" does not answer a tool call of the assistant message before it`;
    return orchError('INVALID_PARAMS', message, { field });
  }

  /** The first call still waiting for a result when `where` begins, if any. */
  unanswered(where: string): OrchError | undefined {
    for (const field of this.pending.values()) {
      return orchError('INVALID_PARAMS', `${field} has no tool result before ${where}`, { field });
    }
    return undefined;
  }
}
