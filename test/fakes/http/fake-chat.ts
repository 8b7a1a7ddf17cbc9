// The chat "model" and stream loop shared by the engine fakes' `/v1/chat/completions` routes:
// what a request gets is planned up front from its body (deterministic by messages + seed):
// text tokens, or one tool call when tools are offered and asked for, streamed in 8-character
// argument fragments (one token each). The loop paces, sends keep-alives and applies the fault
// modes at a step; each engine supplies its wire shapes through ChatWireFormat.

import { isRecord, type JsonRecord } from '../../../src/transport/json-fields.ts';
import { faultAt, type FakeMode } from './fake-generation.ts';
import type { FakeExchange } from './fake-server.ts';
import { fakeTokenStream, fakeTokenize } from './fake-tokens.ts';

export type ChatStep =
  | { kind: 'text'; piece: string }
  /** `id` and `name` only on a call's first fragment. */
  | { kind: 'tool'; index: number; id?: string; name?: string; args: string };

export type ChatFinish = 'stop' | 'length' | 'tool_calls';

export interface FakeChatScript {
  steps: ChatStep[];
  finish: ChatFinish;
  /** The matched stop string when a stop string ended the text. */
  stoppedBy: string | undefined;
  /** The conversation's flat text: the token stream's seed text. */
  promptText: string;
  promptTokens: number;
  /** One per step. */
  completionTokens: number;
}

export interface ChatPlanInput {
  body: JsonRecord;
  seed: number;
  maxTokens: number;
  eosAfterTokens: number | undefined;
  /** The engine's id for tool call `index` (vLLM random, TGI "0", ...). */
  toolCallId: (index: number) => string;
  /** The token that completes a stop string is sent whole (TGI) instead of cut before it. */
  keepStopText?: boolean;
}

const FRAGMENT_CHARS = 8;

/** `role: text` per message, one a line; image parts count as `[image]`. What the fake "reads". */
export function fakeChatPrompt(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages
    .filter(isRecord)
    .map((m) => `${String(m['role'])}: ${contentText(m['content'])}`)
    .join('\n');
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter(isRecord)
    .map((p) => (p['type'] === 'text' && typeof p['text'] === 'string' ? p['text'] : '[image]'))
    .join('');
}

export function planFakeChat(input: ChatPlanInput): FakeChatScript {
  const promptText = fakeChatPrompt(input.body['messages']);
  const base = { promptText, promptTokens: Math.max(1, fakeTokenize(promptText).length), stoppedBy: undefined };
  const tool = chosenTool(input.body);
  if (tool !== undefined) {
    const args = JSON.stringify(argumentsFor(tool, promptText, input.seed));
    const fragments: string[] = [];
    for (let i = 0; i < args.length; i += FRAGMENT_CHARS) fragments.push(args.slice(i, i + FRAGMENT_CHARS));
    const sent = fragments.slice(0, input.maxTokens);
    const steps: ChatStep[] = sent.map((args, i) => (i === 0 ? { kind: 'tool', index: 0, id: input.toolCallId(0), name: tool.name, args } : { kind: 'tool', index: 0, args }));
    return { ...base, steps, finish: sent.length < fragments.length ? 'length' : 'tool_calls', completionTokens: steps.length };
  }
  return { ...base, ...planText(input, promptText) };
}

/** Seeded tokens until EOS, max_tokens or a stop string (cut before it, or sent whole with keepStopText). */
function planText(input: ChatPlanInput, promptText: string): Pick<FakeChatScript, 'steps' | 'finish' | 'stoppedBy' | 'completionTokens'> {
  const stops = stopList(input.body['stop']).filter((s) => s.length > 0);
  const tokens = fakeTokenStream(promptText, input.seed);
  const steps: ChatStep[] = [];
  const done = (finish: ChatFinish, stoppedBy?: string, extraTokens = 0) => ({ steps, finish, stoppedBy, completionTokens: steps.length + extraTokens });
  let text = '';
  for (;;) {
    if (input.eosAfterTokens !== undefined && steps.length >= input.eosAfterTokens) return done('stop');
    if (steps.length >= input.maxTokens) return done('length');
    const piece = tokens.next().value.piece;
    const combined = text + piece;
    // A stop string may begin in earlier text and end in this piece.
    const hit = stops
      .map((word) => ({ word, at: combined.indexOf(word, Math.max(0, text.length - word.length + 1)) }))
      .filter((h) => h.at >= 0)
      .sort((a, b) => a.at - b.at)[0];
    if (hit === undefined) {
      text = combined;
      steps.push({ kind: 'text', piece });
      continue;
    }
    const sent = input.keepStopText === true ? piece : combined.slice(text.length, Math.max(text.length, hit.at));
    if (sent.length > 0) steps.push({ kind: 'text', piece: sent });
    // The token that completed the stop string was generated even when nothing of it is sent.
    return done('stop', hit.word, sent.length > 0 ? 0 : 1);
  }
}

interface FakeTool {
  name: string;
  properties: JsonRecord;
}

/**
 * A call when tools are offered, the conversation ends with a user turn and tool_choice is not
 * "none": `required` → the first tool, a named choice → that tool, `auto` (or absent) → the
 * first tool whose name the last user message mentions.
 */
function chosenTool(body: JsonRecord): FakeTool | undefined {
  const tools = Array.isArray(body['tools']) ? body['tools'].filter(isRecord).map(toolOf).filter((t) => t !== undefined) : [];
  const messages = Array.isArray(body['messages']) ? body['messages'].filter(isRecord) : [];
  const last = messages.at(-1);
  if (tools.length === 0 || last?.['role'] !== 'user') return undefined;
  const choice = body['tool_choice'] ?? 'auto';
  if (choice === 'none') return undefined;
  if (choice === 'required') return tools[0];
  if (isRecord(choice)) {
    const fn = choice['function'];
    return isRecord(fn) ? tools.find((t) => t.name === fn['name']) : undefined;
  }
  const text = contentText(last['content']);
  return tools.find((t) => text.includes(t.name));
}

function toolOf(tool: JsonRecord): FakeTool | undefined {
  const fn = tool['function'];
  if (!isRecord(fn) || typeof fn['name'] !== 'string') return undefined;
  const params = fn['parameters'];
  const properties = isRecord(params) && isRecord(params['properties']) ? params['properties'] : {};
  return { name: fn['name'], properties };
}

/** One value per declared property by its JSON Schema type; strings are tokens of the seeded stream. */
function argumentsFor(tool: FakeTool, promptText: string, seed: number): JsonRecord {
  const tokens = fakeTokenStream(`${promptText}\n${tool.name}`, seed);
  const out: JsonRecord = {};
  for (const [key, schema] of Object.entries(tool.properties)) {
    const token = tokens.next().value;
    const type = isRecord(schema) ? schema['type'] : undefined;
    if (type === 'string') out[key] = token.piece.trim();
    else if (type === 'integer' || type === 'number') out[key] = token.id;
    else if (type === 'boolean') out[key] = token.id % 2 === 1;
    else out[key] = null;
  }
  return out;
}

function stopList(stop: unknown): string[] {
  if (typeof stop === 'string') return [stop];
  return Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string') : [];
}

/** An engine's chat wire shapes. */
export interface ChatWireFormat {
  headers: Record<string, string>;
  keepAlive: string;
  /** Bytes before the first step (the role chunk), '' when the engine sends none. */
  opening: string;
  /** One step; `last` lets engines that carry the finish reason on the last delta (TGI) do so. */
  step(step: ChatStep, last: boolean): string;
  /** Everything after the last step: finish chunk (unless on the last step), usage chunk when asked, terminator. */
  closing(script: FakeChatScript): string;
  /** An in-band error after the 200, with whatever the engine sends after it. */
  inBandError(message: string): string;
}

export interface ChatPacing {
  tokensPerS: number;
  firstTokenDelayMs: number;
  /** A keep-alive before the first step and after every N steps; 0 = never. */
  keepAliveEvery: number;
  mode: FakeMode;
}

const sleep = (ex: FakeExchange, ms: number): Promise<unknown> =>
  Promise.race([ms > 0 ? new Promise((r) => setTimeout(r, ms)) : new Promise((r) => setImmediate(r)), ex.closed]);

/** Streams a planned answer; resolves true when it was written whole. Faults "at N" strike after N steps. */
export async function runChatStream(ex: FakeExchange, script: FakeChatScript, format: ChatWireFormat, pacing: ChatPacing): Promise<boolean> {
  const faults = {
    failAt: faultAt(pacing.mode, 'fail-at-token'),
    resetAt: faultAt(pacing.mode, 'reset-at-token'),
    hangAt: faultAt(pacing.mode, 'hang-at-token'),
  };
  // A reset or hang at step 0 strikes before any response byte.
  if (faults.resetAt === 0 || faults.hangAt === 0) return !(await strike(ex, 0, faults, format));
  ex.res.writeHead(200, format.headers);
  ex.res.flushHeaders();
  if (pacing.firstTokenDelayMs > 0) await sleep(ex, pacing.firstTokenDelayMs);
  if (pacing.keepAliveEvery > 0 && !(await ex.write(format.keepAlive))) return false;
  if (format.opening.length > 0 && !(await ex.write(format.opening))) return false;
  const perTokenMs = pacing.tokensPerS > 0 ? 1000 / pacing.tokensPerS : 0;
  for (const [i, step] of script.steps.entries()) {
    if (!ex.isOpen() || (await strike(ex, i, faults, format))) return false;
    if (!(await ex.write(format.step(step, i === script.steps.length - 1)))) return false;
    ex.record.tokensSent = i + 1;
    if (pacing.keepAliveEvery > 0 && (i + 1) % pacing.keepAliveEvery === 0 && !(await ex.write(format.keepAlive))) return false;
    await sleep(ex, perTokenMs);
  }
  if (!ex.isOpen() || (await strike(ex, script.steps.length, faults, format))) return false;
  if (!(await ex.write(format.closing(script)))) return false;
  ex.res.end();
  return true;
}

interface Faults {
  failAt: number;
  resetAt: number;
  hangAt: number;
}

/** Applies the fault planned after `sent` steps, if any; true when the stream is over. */
async function strike(ex: FakeExchange, sent: number, faults: Faults, format: ChatWireFormat): Promise<boolean> {
  if (sent === faults.failAt) {
    if (await ex.write(format.inBandError('fake engine failure mid-stream'))) ex.res.end();
    return true;
  }
  if (sent === faults.resetAt) {
    ex.reset();
    return true;
  }
  if (sent === faults.hangAt) {
    await ex.closed;
    return true;
  }
  return false;
}
