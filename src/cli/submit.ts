// `orchqueue submit`: builds a TaskRequest from options (prompt from --prompt or stdin), sends
// it with an optional bounded retry that honours Retry-After, and with --stream prints tokens
// as they arrive, resumes a dropped stream with Last-Event-ID, and turns Ctrl-C into a cancel.

import { randomUUID } from 'node:crypto';
import { ApiError, type EventStream, type OrchQueueClient, type TaskRequest } from './client.ts';
import { intOption, stringOption, UsageError, type Command, type CommandContext } from './command.ts';
import { EXIT, exitCodeForError } from './exit-codes.ts';
import type { Output } from './output.ts';
import { printResult } from './output.ts';

const RETRY_WAIT_CAP_MS = 60_000;
const RESUME_ATTEMPTS = 3;
/** After Ctrl-C and the cancel ack the terminal event is already logged; this only guards a stuck stream. */
const CANCEL_GRACE_MS = 2_000;

const details = `The prompt comes from --prompt, or else from standard input (one trailing newline removed).
A client task_id (a fresh UUID unless --task-id is given) makes the submission idempotent, so
--retry and Ctrl-C handling are safe.

Without --stream: prints the admission (task_id, queue_position, predicted_start_ms, backoff_ms,
streams). With --stream: the task's events in the same round trip; tokens are written to stdout
as they arrive and a summary line to stderr (--json: one JSON event per line). A dropped stream
is resumed with Last-Event-ID. Ctrl-C cancels the task (POST /v1/tasks/{id}/cancel) and exits
130; a second Ctrl-C exits at once. A task that ends with an error event exits with the code of
its error class.

--retry: a refusal that says "later" (429, or a retriable 503 such as POOL_UNREADY) is retried
after the gateway's Retry-After (else X-Backoff-Ms, else 1 s; at most 60 s per wait), at most
--attempts times in all. A refused request changes nothing on the gateway, so retrying is safe.`;

export const submit: Command = {
  name: 'submit',
  args: '',
  summary: 'Submit a generation task; with --stream, print its tokens as they arrive.',
  details,
  options: {
    model: { type: 'string', short: 'm', value: 'model', description: 'model name or alias (default demo)' },
    prompt: { type: 'string', short: 'p', value: 'text', description: 'the prompt (default: read standard input)' },
    'max-tokens': { type: 'string', short: 'n', value: 'n', description: 'tokens to generate (default 128)' },
    seed: { type: 'string', value: 'n', description: 'sampling seed (same seed and prompt give the same tokens on a deterministic pool)' },
    session: { type: 'string', value: 'session_id', description: 'run as a turn of this session (created with defaults if unknown)' },
    priority: { type: 'string', value: 'class', description: 'interactive (default) or batch' },
    'deadline-ms': { type: 'string', value: 'ms', description: 'the task must finish within this many ms' },
    'task-id': { type: 'string', value: 'uuid', description: 'client task id (default: a fresh UUID)' },
    stream: { type: 'boolean', short: 's', description: 'stream the events and print tokens as they arrive' },
    retry: { type: 'boolean', description: 'retry refusals that carry a retry hint (429, retriable 503)' },
    attempts: { type: 'string', value: 'n', description: 'with --retry, attempts in all (default 5)' },
  },
  positionals: [],
  run: runSubmit,
};

async function buildRequest(ctx: CommandContext): Promise<TaskRequest> {
  let prompt = stringOption(ctx, 'prompt');
  if (prompt === undefined) {
    const input = await ctx.readStdin();
    if (input === undefined) throw new UsageError('no prompt: give --prompt or pipe the prompt on standard input', submit);
    prompt = input.endsWith('\n') ? input.slice(0, input.endsWith('\r\n') ? -2 : -1) : input;
  }
  const priority = stringOption(ctx, 'priority');
  if (priority !== undefined && priority !== 'interactive' && priority !== 'batch') {
    throw new UsageError(`--priority must be interactive or batch, got "${priority}"`, submit);
  }
  const body: TaskRequest = {
    model: stringOption(ctx, 'model') ?? 'demo',
    prompt,
    max_tokens: intOption(ctx, 'max-tokens', submit) ?? 128,
    task_id: stringOption(ctx, 'task-id') ?? randomUUID(),
  };
  const seed = intOption(ctx, 'seed', submit);
  const deadline = intOption(ctx, 'deadline-ms', submit);
  const session = stringOption(ctx, 'session');
  if (seed !== undefined) body.seed = seed;
  if (deadline !== undefined) body.deadline_ms = deadline;
  if (session !== undefined) body.session_id = session;
  if (priority !== undefined) body.priority = priority;
  return body;
}

function retryable(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.status === 429 || (err.status === 503 && err.error?.retriable !== false));
}

/** Runs `attempt` until it succeeds, fails for good, or `attempts` are used up. */
async function withRetry<T>(ctx: CommandContext, attempts: number, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!retryable(err) || n >= attempts) throw err;
      const waitMs = Math.min(RETRY_WAIT_CAP_MS, err.retryAfterMs ?? err.backoffMs ?? 1_000);
      ctx.out.note(`${err.message}; retrying in ${waitMs} ms (attempt ${n + 1} of ${attempts})`);
      await ctx.sleep(waitMs);
    }
  }
}

async function runSubmit(ctx: CommandContext): Promise<number> {
  const body = await buildRequest(ctx);
  const attempts = ctx.values.retry ? (intOption(ctx, 'attempts', submit) ?? 5) : 1;
  if (attempts < 1) throw new UsageError('--attempts must be at least 1', submit);
  if (!ctx.values.stream) {
    printResult(ctx.out, await withRetry(ctx, attempts, () => ctx.client.submit(body)));
    return EXIT.OK;
  }
  return streamTask(ctx, body, attempts);
}

interface StreamState {
  lastId: number;
  printedTokens: boolean;
  terminal: { event: string; data: Record<string, unknown> } | undefined;
  interrupted: boolean;
  /** The cancel sent on Ctrl-C; awaited before exiting so the exit never races it. */
  cancelling: Promise<void> | undefined;
}

function printEvent(out: Output, state: StreamState, event: { id: number; event: string; data: Record<string, unknown> }): void {
  state.lastId = event.id;
  if (out.json) out.write(`${JSON.stringify(event)}\n`);
  else if (event.event === 'token') {
    out.write(String(event.data.t));
    state.printedTokens = true;
  }
  if (event.event === 'end' || event.event === 'error') state.terminal = event;
}

function finish(out: Output, state: StreamState, taskId: string): number {
  if (state.printedTokens) out.write('\n');
  const t = state.terminal;
  if (!t) {
    out.note(`task ${taskId}: the stream closed before the task ended; follow it with \`orchqueue status ${taskId}\``);
    return state.interrupted ? EXIT.INTERRUPTED : EXIT.UNAVAILABLE;
  }
  if (t.event === 'end') {
    out.note(`[task ${taskId}: ${String(t.data.tokens_out)} tokens, finish_reason ${String(t.data.finish_reason)}]`);
    return state.interrupted ? EXIT.INTERRUPTED : EXIT.OK;
  }
  out.note(`[task ${taskId}: error ${String(t.data.code)}: ${String(t.data.message)}]`);
  return state.interrupted ? EXIT.INTERRUPTED : exitCodeForError(String(t.data.code), 0);
}

/** On the first Ctrl-C: cancel the task, then let the stream deliver its terminal event (or give up after a grace period). */
function interruptHandler(ctx: CommandContext, client: OrchQueueClient, taskId: string, state: StreamState, ac: AbortController) {
  return () => {
    if (state.interrupted) {
      state.cancelling = undefined; // a second Ctrl-C: stop waiting for the cancel too
      return ac.abort();
    }
    state.interrupted = true;
    ctx.out.note(`interrupted: canceling task ${taskId}`);
    const grace = () => setTimeout(() => ac.abort(), CANCEL_GRACE_MS).unref();
    state.cancelling = client.cancel(taskId).then(
      (r) => {
        ctx.out.note(`task ${taskId} ${r.canceled ? 'canceled' : `had already ended (${r.state})`}`);
        grace();
      },
      (err: unknown) => {
        ctx.out.note(`cancel of task ${taskId} failed: ${err instanceof Error ? err.message : String(err)}`);
        ac.abort();
      },
    );
  };
}

async function streamTask(ctx: CommandContext, body: TaskRequest, attempts: number): Promise<number> {
  const taskId = body.task_id ?? '';
  const state: StreamState = { lastId: 0, printedTokens: false, terminal: undefined, interrupted: false, cancelling: undefined };
  const ac = new AbortController();
  const off = ctx.onInterrupt(interruptHandler(ctx, ctx.client, taskId, state, ac));
  try {
    let stream: EventStream | undefined = await withRetry(ctx, attempts, () => ctx.client.submitStream(body, ac.signal));
    for (let resumes = 0; stream !== undefined; ) {
      try {
        for await (const event of stream.events) printEvent(ctx.out, state, event);
      } catch (err) {
        if (ac.signal.aborted) break;
        ctx.out.note(`stream interrupted: ${err instanceof Error ? err.message : String(err)}`);
      }
      stream = undefined;
      if (state.terminal || ac.signal.aborted || resumes++ >= RESUME_ATTEMPTS) break;
      stream = await ctx.client.stream(taskId, { lastEventId: state.lastId, signal: ac.signal });
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    // A second Ctrl-C clears `cancelling` and aborts; waiting on the abort too lets it end this wait.
    if (state.cancelling) await Promise.race([state.cancelling, new Promise((r) => ac.signal.addEventListener('abort', r, { once: true }))]);
    off();
  }
  return finish(ctx.out, state, taskId);
}
