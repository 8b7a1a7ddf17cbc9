import { describe, expect, it } from 'vitest';
import { parseErrorText, readErrorPayload, unwrapErrorBody } from './error-body.ts';

describe('unwrapErrorBody', () => {
  const cases: Array<[string, unknown, ReturnType<typeof unwrapErrorBody>]> = [
    ['nested OpenAI / llama.cpp / current vLLM envelope', { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } }, { status: 503, type: 'unavailable_error', message: 'Loading model' }],
    ['nested vLLM envelope with param', { error: { message: 'bad', type: 'BadRequestError', param: null, code: 400 } }, { status: 400, type: 'BadRequestError', message: 'bad' }],
    ['flat legacy vLLM body', { object: 'error', message: 'old', type: 'BadRequestError', param: null, code: 400 }, { status: 400, type: 'BadRequestError', message: 'old' }],
    ['OpenAI string code is not a status', { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } }, { type: 'requests', message: 'slow down' }],
    ['TGI-style string error', { error: 'Model is overloaded', error_type: 'overloaded' }, { type: 'overloaded', message: 'Model is overloaded' }],
    ['TGI chat http_status_code', { error: { message: 'Input validation error', http_status_code: 422 } }, { status: 422, message: 'Input validation error' }],
    ['nested without message still counts as an error', { error: { code: 500 } }, { message: 'engine error without a message' }],
    ['a normal chunk is not an error', { choices: [{ text: 'hi' }] }, undefined],
    ['error: null is not an error', { error: null, choices: [] }, undefined],
    ['not an object', [1, 2], undefined],
  ];
  for (const [name, value, expected] of cases) {
    it(name, () => expect(unwrapErrorBody(value)).toEqual(expected));
  }
});

describe('readErrorPayload', () => {
  it('accepts the bare legacy llama.cpp `error:` line body', () => {
    expect(readErrorPayload({ code: 500, message: 'boom', type: 'server_error' })).toEqual({ status: 500, type: 'server_error', message: 'boom' });
  });
  it('accepts an old {content} error body', () => {
    expect(readErrorPayload({ content: 'slot unavailable' })).toEqual({ message: 'slot unavailable' });
  });
  it('never fails on garbage', () => {
    expect(readErrorPayload(undefined)).toEqual({ message: expect.any(String) });
  });
});

describe('parseErrorText', () => {
  it('returns undefined for non-JSON bodies', () => {
    expect(parseErrorText('<html>502 Bad Gateway</html>')).toBeUndefined();
  });
});
