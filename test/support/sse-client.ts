// A real SSE client for tests: opens a stream over HTTP, parses it with the project's
// incremental parser, and collects typed events until the terminal one (or a stop rule).

import { request } from 'undici';
import { SseParser } from '../../src/transport/sse-parser.ts';

export interface ReceivedEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

export interface StreamResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  events: ReceivedEvent[];
  comments: number;
  /** true when the server ended the response (after a terminal event). */
  ended: boolean;
  body?: unknown;
}

export interface OpenStreamOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  /** Stop reading (abort the connection) once this returns true. */
  until?: (events: ReceivedEvent[]) => boolean;
  timeoutMs?: number;
}

export async function openStream(url: string, opts: OpenStreamOptions = {}): Promise<StreamResult> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('stream timed out')), opts.timeoutMs ?? 10_000);
  const headers: Record<string, string> = { accept: 'text/event-stream', ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await request(url, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: ac.signal,
    });
    const result: StreamResult = { status: res.statusCode, headers: res.headers, events: [], comments: 0, ended: false };
    if (!String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      const text = await res.body.text();
      result.body = text ? JSON.parse(text) : undefined;
      return result;
    }
    const parser = new SseParser();
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        for (const m of parser.push(chunk as Uint8Array)) {
          result.events.push({ id: Number(m.id), event: m.event ?? 'message', data: JSON.parse(m.data) as Record<string, unknown> });
        }
        if (opts.until?.(result.events)) {
          ac.abort(new Error('test stopped reading'));
          break;
        }
      }
      result.ended = !ac.signal.aborted;
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    result.comments = (text.match(/^:/gm) ?? []).length;
    return result;
  } finally {
    clearTimeout(timer);
  }
}

export const tokens = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'token').map((e) => e.data.t as string);
export const terminal = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'end' || e.event === 'error');
