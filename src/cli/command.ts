// What a CLI command is (name, usage, options, positionals, run) and how its arguments are
// parsed with node:util parseArgs and rendered as help. Knows nothing about HTTP.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { OrchQueueClient } from './client.ts';
import type { Output } from './output.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in help as `--name <value>`. */
  value?: string;
  description: string;
}

export interface CommandContext {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  client: OrchQueueClient;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Reads all of standard input (submit without --prompt); undefined when stdin is a terminal. */
  readStdin: () => Promise<string | undefined>;
  /** Calls `handler` on each Ctrl-C (SIGINT) until the returned function is called. */
  onInterrupt: (handler: () => void) => () => void;
  sleep: (ms: number) => Promise<void>;
}

export interface Command {
  /** One or two words: `status`, `session get`. */
  name: string;
  args: string;
  summary: string;
  details?: string;
  options: Record<string, OptionSpec>;
  /** Names of the required positionals, in order. */
  positionals: string[];
  /** Up to this many positionals (defaults to positionals.length). */
  maxPositionals?: number;
  /** Runs without a gateway client (serve). */
  local?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'url', description: 'gateway base URL (env ORCHQUEUE_URL; default http://127.0.0.1:8080)' },
  token: { type: 'string', value: 'token', description: 'bearer token (env ORCHQUEUE_TOKEN)' },
  json: { type: 'boolean', description: 'machine output: JSON on stdout (NDJSON events for submit --stream)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

/** Thrown for bad usage; main prints it with the command's usage and exits 2. */
export class UsageError extends Error {
  readonly command: Command | undefined;
  constructor(message: string, command?: Command) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

function parseConfig(options: Record<string, OptionSpec>): ParseArgsOptionsConfig {
  const config: ParseArgsOptionsConfig = {};
  for (const [name, spec] of Object.entries(options)) {
    config[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  return config;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses `args` (after the command words) with the command's and the global options. */
export function parseCommandArgs(command: Command, args: string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args, options: parseConfig({ ...GLOBAL_OPTIONS, ...command.options }), allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err), command);
  }
  const values = parsed.values as ParsedArgs['values'];
  if (values.help) return { values, positionals: parsed.positionals };
  const max = command.maxPositionals ?? command.positionals.length;
  if (parsed.positionals.length < command.positionals.length) {
    throw new UsageError(`missing <${command.positionals[parsed.positionals.length]}>`, command);
  }
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`, command);
  return { values, positionals: parsed.positionals };
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` <${spec.value}>` : ''}`;
    return [flag, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: orchqueue ${command.name}${command.args ? ` ${command.args}` : ''} [options]`, '', command.summary];
  if (command.details) lines.push('', command.details);
  if (Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  return `${lines.join('\n')}\n`;
}

/** Integer option value, or undefined when absent; anything else is a usage error. */
export function intOption(ctx: Pick<CommandContext, 'values'>, name: string, command?: Command): number | undefined {
  const raw = ctx.values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be an integer, got "${String(raw)}"`, command);
  return Number(raw);
}

export const stringOption = (ctx: Pick<CommandContext, 'values'>, name: string): string | undefined => {
  const raw = ctx.values[name];
  return typeof raw === 'string' ? raw : undefined;
};
