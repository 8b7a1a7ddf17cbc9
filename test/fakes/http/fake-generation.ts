// The generation loop shared by engine fakes: pacing, keep-alive comments, stop strings, EOS,
// and the fault modes (in-band failure, socket reset, hang) at a chosen token. Each engine
// supplies only its wire format through GenerationFormat.

import type { FakeExchange } from './fake-server.ts';
import { fakeTokenStream } from './fake-tokens.ts';

/** Fault modes a fake can be put in; faults "at token N" fire after N tokens were sent. */
export type FakeMode =
  | 'ready'
  | 'loading'
  | 'overloaded'
  | 'fail-before-first-token'
  | { kind: 'fail-at-token'; at: number }
  | { kind: 'reset-at-token'; at: number }
  | { kind: 'hang-at-token'; at: number };

export type StopKind = 'eos' | 'word' | 'limit';

export interface GenerationOutcome {
  stop: StopKind;
  /** Text sent as tokens (stop string excluded). */
  text: string;
  tokens: number;
  stoppingWord: string;
}

export interface GenerationFormat {
  headers: Record<string, string>;
  /** Bytes written right after the headers (Anthropic `message_start`, OpenAI's role chunk). */
  start?: string;
  /** SSE bytes of one partial/token event. */
  token(piece: string, tokenId: number, sent: number): string;
  final(outcome: GenerationOutcome): string;
  /** In-band error after headers, including whatever terminator the engine sends after it. */
  inBandError(message: string): string;
  keepAlive: string;
}

export interface GenerationPlan {
  prompt: string;
  seed: number;
  maxTokens: number;
  stop: readonly string[];
  eosAfterTokens: number | undefined;
  /** 0 or Infinity = as fast as possible. */
  tokensPerS: number;
  firstTokenDelayMs: number;
  /** Emit a keep-alive comment before the first token and after every N tokens; 0 = never. */
  keepAliveEvery: number;
  mode: FakeMode;
}

export interface GenerationResult {
  /** Everything sent as tokens, even when the stream was cut short. */
  text: string;
  tokens: number;
  completed: boolean;
}

export function faultAt(mode: FakeMode, kind: 'fail-at-token' | 'reset-at-token' | 'hang-at-token'): number {
  return typeof mode === 'object' && mode.kind === kind ? mode.at : -1;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Faults {
  failAt: number;
  resetAt: number;
  hangAt: number;
}

export async function runGeneration(ex: FakeExchange, plan: GenerationPlan, format: GenerationFormat): Promise<GenerationResult> {
  const faults: Faults = {
    failAt: faultAt(plan.mode, 'fail-at-token'),
    resetAt: faultAt(plan.mode, 'reset-at-token'),
    hangAt: faultAt(plan.mode, 'hang-at-token'),
  };
  const result: GenerationResult = { text: '', tokens: 0, completed: false };
  if (!(await openStream(ex, plan, format, faults))) return result;
  const perTokenMs = plan.tokensPerS > 0 && Number.isFinite(plan.tokensPerS) ? 1000 / plan.tokensPerS : 0;
  const tokens = fakeTokenStream(plan.prompt, plan.seed);
  let stop: StopKind = 'limit';
  let stoppingWord = '';
  for (;;) {
    if (!ex.isOpen() || (await faultStrikes(ex, result.tokens, faults, format))) return result;
    if (plan.eosAfterTokens !== undefined && result.tokens >= plan.eosAfterTokens) {
      stop = 'eos';
      break;
    }
    if (result.tokens >= plan.maxTokens) break;
    const token = tokens.next().value;
    result.tokens++;
    ex.record.tokensSent = result.tokens;
    const hit = findStop(result.text, token.piece, plan.stop);
    const piece = hit === undefined ? token.piece : hit.before;
    result.text += piece;
    if (piece.length > 0 && !(await ex.write(format.token(piece, token.id, result.tokens)))) return result;
    if (hit !== undefined) {
      stop = 'word';
      stoppingWord = hit.word;
      break;
    }
    if (plan.keepAliveEvery > 0 && result.tokens % plan.keepAliveEvery === 0 && !(await ex.write(format.keepAlive))) return result;
    await Promise.race([perTokenMs > 0 ? sleep(perTokenMs) : new Promise((r) => setImmediate(r)), ex.closed]);
  }
  if (!(await ex.write(format.final({ stop, text: result.text, tokens: result.tokens, stoppingWord })))) return result;
  ex.res.end();
  result.completed = true;
  return result;
}

/** Headers, first-token delay, opening keep-alive; false when a fault at token 0 ended it first. */
async function openStream(ex: FakeExchange, plan: GenerationPlan, format: GenerationFormat, faults: Faults): Promise<boolean> {
  // A reset or hang at token 0 strikes before any response byte: nothing has been promised yet.
  if (faults.resetAt === 0) {
    ex.reset();
    return false;
  }
  if (faults.hangAt === 0) {
    await ex.closed;
    return false;
  }
  ex.res.writeHead(200, format.headers);
  ex.res.flushHeaders();
  if (format.start !== undefined && !(await ex.write(format.start))) return false;
  if (plan.firstTokenDelayMs > 0) await Promise.race([sleep(plan.firstTokenDelayMs), ex.closed]);
  return plan.keepAliveEvery > 0 ? ex.write(format.keepAlive) : ex.isOpen();
}

/** Applies the fault planned after `sent` tokens, if any; true when the stream is over. */
async function faultStrikes(ex: FakeExchange, sent: number, faults: Faults, format: GenerationFormat): Promise<boolean> {
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

/** A stop string completed by `piece`: the part of the piece before it, and which word matched. */
function findStop(sofar: string, piece: string, stops: readonly string[]): { before: string; word: string } | undefined {
  if (stops.length === 0) return undefined;
  const combined = sofar + piece;
  let best: { at: number; word: string } | undefined;
  for (const word of stops) {
    if (word.length === 0) continue;
    const from = Math.max(0, sofar.length - word.length + 1);
    const at = combined.indexOf(word, from);
    if (at !== -1 && (best === undefined || at < best.at)) best = { at, word };
  }
  if (best === undefined) return undefined;
  return { before: combined.slice(sofar.length, Math.max(sofar.length, best.at)), word: best.word };
}
