// Control messages between gateway replicas (issue 15): cancel, drain and reload travel on the
// pub/sub channel of the replica that owns the task or pool, and the owner acknowledges on the
// sender's channel once its handler has finished (for cancel: the task's log is closed, so no
// token follows the ack). No subscriber is CONTROL_UNREACHABLE at once; no ack in time is
// CONTROL_TIMEOUT. Pub/sub delivers at most once: a sender may retry, handlers are idempotent.

import type { Redis } from 'ioredis';
import type { IdSource, Timer, TimerClock } from '../../core/ports.ts';
import { StateError, unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';

export type ControlCommand =
  | { kind: 'cancel'; task_id: string }
  | { kind: 'drain'; pool_id: string; deadline_ms: number }
  | { kind: 'reload_pool'; pool_id: string }
  | { kind: 'reload' };

/** What the owner's handler answers; `detail` travels as JSON; `code` is the refusal's error code. */
export type ControlReply = { ok: true; detail?: unknown } | { ok: false; message: string; code?: string };

export type ControlResult = { ok: true; reply: ControlReply } | { ok: false; error: StateError };

/** Acts on a command addressed to this replica; resolves once the effect is done. */
export type ControlHandler = (command: ControlCommand, from: string) => Promise<ControlReply>;

type Envelope = { type: 'request'; id: string; from: string; command: ControlCommand } | { type: 'ack'; id: string; reply: ControlReply };

export interface ControlBusOptions {
  /** The command connection (PUBLISH). */
  redis: Redis;
  /** A connection used only to subscribe (pub/sub mode takes it over). */
  subscriber: Redis;
  keys: StateKeys;
  replicaId: string;
  handler: ControlHandler;
  clock: TimerClock;
  ids: IdSource;
  /** How long a sender waits for the ack (default 5 s). */
  timeoutMs?: number;
}

interface Pending {
  resolve(result: ControlResult): void;
  timer: Timer;
}

export class ControlBus {
  readonly #opts: ControlBusOptions;
  readonly #channel: string;
  readonly #pending = new Map<string, Pending>();
  readonly #onMessage = (channel: string, message: string) => {
    if (channel === this.#channel) this.#receive(message);
  };

  constructor(opts: ControlBusOptions) {
    this.#opts = opts;
    this.#channel = opts.keys.control(opts.replicaId);
  }

  /** Subscribes to this replica's channel (requests to it and acks of what it sent). */
  async start(): Promise<void> {
    this.#opts.subscriber.on('message', this.#onMessage);
    try {
      await this.#opts.subscriber.subscribe(this.#channel);
    } catch (error) {
      throw unavailable('control subscribe', error);
    }
  }

  /** Sends `command` to replica `to` and waits for its ack. */
  async send(to: string, command: ControlCommand, timeoutMs = this.#opts.timeoutMs ?? 5_000): Promise<ControlResult> {
    const id = this.#opts.ids.uuid();
    const envelope: Envelope = { type: 'request', id, from: this.#opts.replicaId, command };
    const answered = new Promise<ControlResult>((resolve) => {
      const timer = this.#opts.clock.setTimer(timeoutMs, () => {
        this.#pending.delete(id);
        resolve({ ok: false, error: new StateError('CONTROL_TIMEOUT', `replica ${to} did not acknowledge ${command.kind} within ${timeoutMs} ms`) });
      });
      this.#pending.set(id, { resolve, timer });
    });
    let receivers: number;
    try {
      receivers = await this.#opts.redis.publish(this.#opts.keys.control(to), JSON.stringify(envelope));
    } catch (error) {
      this.#settle(id, { ok: false, error: unavailable('control send', error) });
      return answered;
    }
    if (receivers === 0) this.#settle(id, { ok: false, error: new StateError('CONTROL_UNREACHABLE', `no live replica ${to} listens for control messages`) });
    return answered;
  }

  async close(): Promise<void> {
    this.#opts.subscriber.off('message', this.#onMessage);
    for (const [id] of this.#pending) this.#settle(id, { ok: false, error: new StateError('CONTROL_UNREACHABLE', 'the control bus closed before the ack') });
    await this.#opts.subscriber.unsubscribe(this.#channel).catch(() => undefined);
  }

  #settle(id: string, result: ControlResult): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.timer.cancel();
    pending.resolve(result);
  }

  #receive(message: string): void {
    const envelope = parseEnvelope(message);
    if (envelope === undefined) return;
    if (envelope.type === 'ack') return this.#settle(envelope.id, { ok: true, reply: envelope.reply });
    void this.#answer(envelope);
  }

  async #answer(request: Extract<Envelope, { type: 'request' }>): Promise<void> {
    let reply: ControlReply;
    try {
      reply = await this.#opts.handler(request.command, request.from);
    } catch {
      // A handler bug is the sender's INTERNAL: no detail crosses the bus.
      reply = { ok: false, message: 'the owning replica failed to apply the command' };
    }
    const ack: Envelope = { type: 'ack', id: request.id, reply };
    // An ack that cannot be sent leaves the sender to its timeout.
    await this.#opts.redis.publish(this.#opts.keys.control(request.from), JSON.stringify(ack)).catch(() => undefined);
  }
}

/** A message from the channel, or undefined when it is not one of ours (never trusted blindly). */
function parseEnvelope(message: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string') return undefined;
  if (v.type === 'ack' && typeof v.reply === 'object' && v.reply !== null && typeof (v.reply as { ok?: unknown }).ok === 'boolean') return v as Envelope;
  if (v.type !== 'request' || typeof v.from !== 'string' || typeof v.command !== 'object' || v.command === null) return undefined;
  const c = v.command as Record<string, unknown>;
  const valid = (c.kind === 'cancel' && typeof c.task_id === 'string')
    || (c.kind === 'drain' && typeof c.pool_id === 'string' && typeof c.deadline_ms === 'number')
    || (c.kind === 'reload_pool' && typeof c.pool_id === 'string')
    || c.kind === 'reload';
  return valid ? (v as Envelope) : undefined;
}
