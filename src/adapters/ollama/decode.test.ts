import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splits } from '../../../test/support/adapter-test-kit.ts';
import { decodeNdjsonOutcome } from '../../../test/support/ndjson-capture.ts';
import type { ChatStreamEvent } from '../contract.ts';
import { chatConversation, chatRequest } from '../../../test/support/chat-request.ts';
import { ollamaDecoder, OllamaStreamDecoder } from './decode.ts';
import { ollamaError, ollamaErrorPolicy } from './errors.ts';
import { decodeOllamaTags, hasModel } from './props.ts';

const dir = new URL('./fixtures/', import.meta.url);
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith('.ndjson'))
  .map((f) => {
    const name = f.slice(0, -'.ndjson'.length);
    return { name, bytes: new Uint8Array(readFileSync(new URL(f, dir))), expected: JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as unknown };
  });
const policy = ollamaErrorPolicy(1000);
const decode = (chunks: Uint8Array[]) =>
  decodeNdjsonOutcome<ChatStreamEvent>(new OllamaStreamDecoder({ idPrefix: 'call_t1' }), chunks, (err, tokens) => ollamaError(err, tokens, policy));

describe('Ollama golden fixtures', () => {
  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  for (const { name, bytes, expected } of fixtures) {
    it(`decodes ${name} whole into the expected canonical events`, () => {
      expect(decode([bytes])).toEqual(expected);
    });

    // ORCH-0605
    it(`decodes ${name} identically when split at every byte boundary and fed one byte at a time`, () => {
      for (const chunks of splits(bytes)) expect(decode(chunks)).toEqual(expected);
    });
  }
});

describe('a completion (non-chat) request', () => {
  it('ends stop where a chat answer ends tool_calls, and keeps length', () => {
    const chat = chatRequest(chatConversation('hi'));
    const { chat: _omitted, ...completion } = chat;
    const reasons = (req: typeof completion) =>
      ['tool-calls', 'chat-length-crlf', 'chat-stop'].map((name) => {
        const fixture = fixtures.find((f) => f.name === name);
        if (fixture === undefined) throw new Error(`no fixture ${name}`);
        const end = decodeNdjsonOutcome<ChatStreamEvent>(ollamaDecoder(req), [fixture.bytes], (err, tokens) => ollamaError(err, tokens, policy)).events.at(-1);
        return end?.type === 'end' ? end.finishReason : undefined;
      });
    expect(reasons(chat)).toEqual(['tool_calls', 'length', 'stop']);
    expect(reasons(completion)).toEqual(['stop', 'length', 'stop']);
  });
});

describe('OllamaStreamDecoder', () => {
  it('refuses a tool call without a name and a line that is not an object', () => {
    const decoder = new OllamaStreamDecoder({ idPrefix: 'c' });
    expect(decoder.push({ ok: true, value: { message: { role: 'assistant', content: '', tool_calls: [{ function: { arguments: {} } }] }, done: false } }, [])).toEqual({
      message: expect.stringContaining('without a function name'),
    });
    expect(new OllamaStreamDecoder({ idPrefix: 'c' }).push({ ok: true, value: [1] }, [])).toEqual({ message: expect.stringContaining('not a JSON object') });
  });

  it('passes string arguments (seen from proxies) through as written', () => {
    const out: ChatStreamEvent[] = [];
    new OllamaStreamDecoder({ idPrefix: 'c' }).push({ ok: true, value: { message: { tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }] }, done: false } }, out);
    expect(out).toEqual([{ type: 'tool_call_delta', index: 0, id: 'c_0', name: 'f', arguments: '{"a":1}' }]);
  });
});

describe('Ollama tags', () => {
  it('lists model names and matches an untagged name to :latest', () => {
    const names = decodeOllamaTags({ models: [{ name: 'llama3.2:latest', model: 'llama3.2:latest' }, { model: 'qwen3:4b' }, 'junk'] });
    expect(names).toEqual(['llama3.2:latest', 'qwen3:4b']);
    expect(hasModel(names ?? [], 'llama3.2')).toBe(true);
    expect(hasModel(names ?? [], 'qwen3')).toBe(false);
    expect(hasModel(names ?? [], 'qwen3:4b')).toBe(true);
    expect(decodeOllamaTags({ error: 'x' })).toBeUndefined();
  });
});
