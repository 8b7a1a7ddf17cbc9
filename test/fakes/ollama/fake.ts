// Protocol-faithful Ollama fake: a real HTTP server on 127.0.0.1 speaking the native API —
// `GET|HEAD /` ("Ollama is running"), `/api/version`, `/api/tags`, `POST /api/chat` as NDJSON
// (stream defaults to true) ending with a `done: true` line whose counts are omitempty (a prompt
// seen before has no `prompt_eval_count`), `{"error":"..."}` bodies, a mid-stream error line under
// status 200, 503 when the queue is full, lazy model load on a model's first request, whole tool
// calls with object arguments. Records requests and client aborts.

import { setTimeout as sleep } from 'node:timers/promises';
import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { runGeneration, type FakeMode, type GenerationFormat, type GenerationOutcome } from '../http/fake-generation.ts';
import { fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, recordField, stringField, type JsonRecord } from '../../../src/transport/json-fields.ts';

export type { SeenRequest } from '../http/fake-server.ts';

export interface OllamaFakeTuning {
  tokensPerS: number;
  eosAfterTokens: number | undefined;
  splitChunks: boolean;
  /** Time a model's first request spends loading it (`load_duration`), before any byte is sent. */
  loadDelayMs: number;
  /** OLLAMA_NUM_PARALLEL: requests generating at once; the rest wait in the queue. */
  numParallel: number;
  /** OLLAMA_MAX_QUEUE: waiting requests beyond which the server answers 503. */
  maxQueue: number;
}

export interface OllamaFakeOptions extends Partial<OllamaFakeTuning> {
  /** Pulled models as /api/tags names them. */
  models?: string[];
  version?: string;
  mode?: FakeMode;
}

export interface OllamaFake extends EngineFake<FakeMode> {
  configure(patch: Partial<OllamaFakeTuning>): void;
  /** Models loaded so far (lazily, by their first request). */
  readonly loaded: ReadonlySet<string>;
}

const BUSY = 'server busy, please try again.  maximum pending requests exceeded';

export async function startOllamaFake(opts: OllamaFakeOptions = {}): Promise<OllamaFake> {
  const tuning: OllamaFakeTuning = {
    tokensPerS: opts.tokensPerS ?? 0,
    eosAfterTokens: opts.eosAfterTokens,
    splitChunks: opts.splitChunks ?? false,
    loadDelayMs: opts.loadDelayMs ?? 0,
    numParallel: opts.numParallel ?? 1,
    maxQueue: opts.maxQueue ?? 512,
  };
  const models = opts.models ?? ['fake-model:latest'];
  const version = opts.version ?? '0.12.6';
  const loaded = new Set<string>();
  const seenPrompts = new Set<string>();
  const queue = createQueue(tuning);
  let mode: FakeMode = opts.mode ?? 'ready';

  const server = await startFakeServer(
    async (ex) => {
      const { method, path } = ex.record;
      if ((method === 'GET' || method === 'HEAD') && path === '/') {
        ex.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        return void ex.res.end(method === 'HEAD' ? undefined : 'Ollama is running');
      }
      if (method === 'GET' && path === '/api/version') return ex.json(200, { version });
      if (method === 'GET' && path === '/api/tags') return ex.json(200, { models: models.map(tagEntry) });
      if (method === 'POST' && path === '/api/chat') {
        const model = resolveModel(models, ex.record.body);
        if (model === undefined) return ex.json(404, { error: `model "${String(isRecord(ex.record.body) ? ex.record.body['model'] : '')}" not found, try pulling it first` });
        if (mode === 'overloaded') return ex.json(503, { error: BUSY });
        if (!queue.enter()) return ex.json(503, { error: BUSY });
        try {
          await queue.turn(ex);
          return await chat(ex, { model, tuning, mode, loaded, seenPrompts });
        } finally {
          queue.leave();
        }
      }
      ex.res.writeHead(404, { 'content-type': 'text/plain' });
      ex.res.end('404 page not found');
    },
    { splitChunks: () => tuning.splitChunks },
  );

  return Object.assign(engineFake<FakeMode>(server, (next) => void (mode = next), false), {
    configure: (patch: Partial<OllamaFakeTuning>) => void Object.assign(tuning, patch),
    loaded,
  });
}

function tagEntry(name: string): unknown {
  return {
    name,
    model: name,
    modified_at: '2025-11-20T10:04:11.123456789+01:00',
    size: 2_019_393_189,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
  };
}

function resolveModel(models: readonly string[], body: unknown): string | undefined {
  const name = isRecord(body) ? stringField(body, 'model') : undefined;
  if (name === undefined) return undefined;
  return models.find((m) => m === name || m === `${name}:latest`);
}

/** The scheduler: numParallel run, up to maxQueue wait (in order), the rest get 503. */
function createQueue(tuning: OllamaFakeTuning) {
  /** Requests admitted: generating plus waiting. */
  let admitted = 0;
  const waiting: Array<() => void> = [];
  return {
    enter(): boolean {
      if (admitted - tuning.numParallel >= tuning.maxQueue) return false;
      admitted++;
      return true;
    },
    async turn(ex: FakeExchange): Promise<void> {
      if (admitted <= tuning.numParallel) return;
      await Promise.race([new Promise<void>((r) => waiting.push(r)), ex.closed]);
    },
    leave(): void {
      admitted--;
      waiting.shift()?.();
    },
  };
}

interface ChatDeps {
  model: string;
  tuning: OllamaFakeTuning;
  mode: FakeMode;
  loaded: Set<string>;
  seenPrompts: Set<string>;
}

async function chat(ex: FakeExchange, deps: ChatDeps): Promise<void> {
  // resolveModel has read `model` from it, so the body is a JSON object.
  const body = ex.record.body as JsonRecord;
  const messages = Array.isArray(body['messages']) ? body['messages'].filter(isRecord) : [];
  if (messages.length === 0) return ex.json(400, { error: 'messages is required' });
  let loadNs = 1_200_000;
  if (!deps.loaded.has(deps.model)) {
    // Lazy load: the first request for a model waits for it before any byte is written.
    ex.record.notes['loaded'] = true;
    await Promise.race([sleep(deps.tuning.loadDelayMs), ex.closed]);
    if (!ex.isOpen()) return;
    deps.loaded.add(deps.model);
    loadNs = deps.tuning.loadDelayMs * 1_000_000 + 1_000_000;
  }
  if (deps.mode === 'fail-before-first-token') return ex.json(500, { error: 'llama runner process has terminated: exit status 2' });
  const prompt = messages.map((m) => stringField(m, 'content') ?? '').join('\n');
  const cached = deps.seenPrompts.has(prompt);
  deps.seenPrompts.add(prompt);
  const options = recordField(body, 'options') ?? {};
  const ctx: LineContext = { model: deps.model, promptTokens: cached ? undefined : fakeTokenize(prompt).length, loadNs };
  const tool = wantedTool(body, messages);
  const streaming = body['stream'] !== false;
  if (tool !== undefined) return toolCall(ex, ctx, tool, streaming);
  if (!streaming) return ex.json(200, { ...finalLine(ctx, { stop: 'eos', text: 'ok', tokens: 1, stoppingWord: '' }), message: { role: 'assistant', content: 'ok' } });
  await runGeneration(ex, {
    prompt,
    seed: typeof options['seed'] === 'number' ? options['seed'] : 0,
    maxTokens: typeof options['num_predict'] === 'number' && options['num_predict'] >= 0 ? options['num_predict'] : 128,
    stop: Array.isArray(options['stop']) ? options['stop'].filter((s): s is string => typeof s === 'string') : [],
    eosAfterTokens: deps.tuning.eosAfterTokens,
    tokensPerS: deps.tuning.tokensPerS,
    firstTokenDelayMs: 0,
    keepAliveEvery: 0,
    mode: deps.mode,
  }, ndjsonFormat(ctx));
}

interface LineContext {
  model: string;
  /** undefined = the prompt was cached: the count is omitted (omitempty). */
  promptTokens: number | undefined;
  loadNs: number;
}

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
const now = (): string => new Date().toISOString().replace('Z', '000Z');

function finalLine(ctx: LineContext, outcome: GenerationOutcome): JsonRecord {
  const evalNs = outcome.tokens * 21_000_000;
  const promptNs = ctx.promptTokens === undefined ? 0 : ctx.promptTokens * 900_000;
  return {
    model: ctx.model,
    created_at: now(),
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: outcome.stop === 'limit' ? 'length' : 'stop',
    total_duration: ctx.loadNs + promptNs + evalNs,
    load_duration: ctx.loadNs,
    ...(ctx.promptTokens === undefined ? {} : { prompt_eval_count: ctx.promptTokens, prompt_eval_duration: promptNs }),
    ...(outcome.tokens === 0 ? {} : { eval_count: outcome.tokens, eval_duration: evalNs }),
  };
}

function ndjsonFormat(ctx: LineContext): GenerationFormat {
  return {
    headers: { 'content-type': 'application/x-ndjson' },
    keepAlive: '',
    token: (piece) => line({ model: ctx.model, created_at: now(), message: { role: 'assistant', content: piece }, done: false }),
    final: (outcome) => line(finalLine(ctx, outcome)),
    inBandError: (message) => line({ error: message }),
  };
}

/** Under tools, the model calls the first tool whose name the last user message mentions. */
function wantedTool(body: JsonRecord, messages: JsonRecord[]): JsonRecord | undefined {
  const last = messages.at(-1);
  if (last === undefined || last['role'] !== 'user') return undefined;
  const text = stringField(last, 'content') ?? '';
  const tools = Array.isArray(body['tools']) ? body['tools'].filter(isRecord) : [];
  return tools.map((t) => recordField(t, 'function')).find((f): f is JsonRecord => f !== undefined && text.includes(stringField(f, 'name') ?? '\0'));
}

async function toolCall(ex: FakeExchange, ctx: LineContext, fn: JsonRecord, streaming: boolean): Promise<void> {
  const props = recordField(recordField(fn, 'parameters') ?? {}, 'properties') ?? {};
  const args = Object.fromEntries(Object.entries(props).map(([k, p]) => [k, isRecord(p) && p['type'] === 'string' ? 'fake' : 42]));
  const message = { role: 'assistant', content: '', tool_calls: [{ function: { index: 0, name: stringField(fn, 'name'), arguments: args } }] };
  ex.record.tokensSent = 1;
  if (!streaming) return ex.json(200, { ...finalLine(ctx, { stop: 'eos', text: '', tokens: 1, stoppingWord: '' }), message });
  ex.res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  if (!(await ex.write(line({ model: ctx.model, created_at: now(), message, done: false })))) return;
  if (await ex.write(line(finalLine(ctx, { stop: 'eos', text: '', tokens: 1, stoppingWord: '' })))) ex.res.end();
}
