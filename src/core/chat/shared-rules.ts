// Checks both dialects' normalizers apply in the same words (issue 11): image sources, tool
// names and call arguments, response formats. Each returns the error naming `field`, or the
// canonical value. Pure.

import { fail, ok, orchError, type Result } from '../errors.ts';
import { isImageMediaType, IMAGE_MEDIA_TYPES, type ImageSource } from './content.ts';
import type { ChatCapabilities } from './conversation.ts';
import type { ResponseFormat } from './response-format.ts';
import { TOOL_NAME_PATTERN, type JsonSchemaObject } from './tool.ts';

export const invalid = <T = never>(field: string, message: string): Result<T> =>
  fail(orchError('INVALID_PARAMS', `${field} ${message}`, { field }));

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `data:<type>;base64,<data>` or an http(s) URL; anything else is refused. */
export function imageFromUrl(url: string, field: string): Result<ImageSource> {
  const data = DATA_URL.exec(url);
  if (data !== null) return imageFromBase64(data[1] ?? '', data[2] ?? '', field, field);
  if (/^https?:\/\/[^\s]+$/i.test(url)) return ok({ kind: 'url', url });
  return invalid(field, 'must be an http(s) URL or a data:<image type>;base64, URL');
}

export function imageFromBase64(mediaType: string, data: string, typeField: string, dataField: string): Result<ImageSource> {
  if (!isImageMediaType(mediaType)) return invalid(typeField, `has media type "${mediaType}"; accepted: ${IMAGE_MEDIA_TYPES.join(', ')}`);
  if (data.length === 0 || data.length % 4 !== 0 || !BASE64.test(data)) return invalid(dataField, 'is not base64 data');
  return ok({ kind: 'base64', mediaType, data });
}

export function checkVision(caps: ChatCapabilities, field: string): Result<true> {
  return caps.vision ? ok(true) : invalid(field, 'is an image, and the target model does not accept images');
}

export function checkToolName(name: string, field: string): Result<string> {
  return TOOL_NAME_PATTERN.test(name) ? ok(name) : invalid(field, 'must be 1-64 characters of a-z, A-Z, 0-9, _ or -');
}

/** A call's arguments must be the JSON text of an object (both dialects' tools take objects). */
export function checkArguments(text: string, field: string): Result<string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return invalid(field, 'is not valid JSON');
  }
  return isPlainObject(value) ? ok(text) : invalid(field, 'must be the JSON text of an object');
}

export function checkSchema(value: unknown, field: string): Result<JsonSchemaObject> {
  return isPlainObject(value) ? ok(value) : invalid(field, 'must be a JSON Schema object');
}

export function checkResponseFormat(format: ResponseFormat, caps: ChatCapabilities, field: string): Result<ResponseFormat> {
  if (format.type === 'text') return ok(format);
  if (!caps.responseFormat) return invalid(`${field}.type`, `is "${format.type}", and the target model cannot constrain its output format`);
  return ok(format);
}
