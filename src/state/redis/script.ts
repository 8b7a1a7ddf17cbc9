// A Lua script registered through ioredis defineCommand (EVALSHA, falling back to EVAL once
// per connection after a SCRIPT FLUSH or a Redis restart), typed at the one place that calls it.

import type { ChainableCommander, Redis } from 'ioredis';

export type ScriptArg = string | number;
export type Script = (keys: readonly string[], args: readonly ScriptArg[]) => Promise<unknown>;

/** Defines `lua` as command `name` on `redis` with a fixed number of keys (undefined: as many as given); returns its caller. */
export function defineScript(redis: Redis, name: string, numberOfKeys: number | undefined, lua: string): Script {
  if (!(name in redis)) redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  // defineCommand adds a method ioredis cannot type; this is its one call site.
  const command = (redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<unknown>>)[name] as (...args: ScriptArg[]) => Promise<unknown>;
  if (numberOfKeys === undefined) return (keys, args) => command.call(redis, keys.length, ...keys, ...args);
  return (keys, args) => {
    if (keys.length !== numberOfKeys) throw new RangeError(`${name}: expects ${numberOfKeys} keys, got ${keys.length}`);
    return command.call(redis, ...keys, ...args);
  };
}

/** Queues a script defined with `defineScript` (same `name`) on a pipeline, so it travels in one round trip with other commands. */
export function pipelineScript(pipeline: ChainableCommander, name: string, keys: readonly string[], args: readonly ScriptArg[], fixedKeys: boolean): void {
  // defineCommand adds the method to pipelines too; ioredis cannot type it (as above).
  const command = (pipeline as unknown as Record<string, (...args: ScriptArg[]) => unknown>)[name] as (...args: ScriptArg[]) => unknown;
  if (fixedKeys) command.call(pipeline, ...keys, ...args);
  else command.call(pipeline, keys.length, ...keys, ...args);
}
