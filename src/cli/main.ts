// The `orchqueue` CLI entry: finds the command, parses its options, builds the client from
// --url/--token (or ORCHQUEUE_URL/ORCHQUEUE_TOKEN), runs it, and turns every failure into a
// message on stderr and a documented exit code. bin/orchqueue.js calls `main()`.

import { ApiError, createClient } from './client.ts';
import { commandHelp, GLOBAL_OPTIONS, parseCommandArgs, stringOption, UsageError, type Command } from './command.ts';
import { auditHead, auditVerify, cancel, drain, models, pools, reload, sessionDelete, sessionGet, status } from './commands.ts';
import { EXIT, EXIT_CODE_HELP, exitCodeForError } from './exit-codes.ts';
import { processOutput, type Output } from './output.ts';
import { serve } from './serve.ts';
import { submit } from './submit.ts';
import { TENANT_COMMANDS } from './tenant-commands.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const COMMANDS: Command[] = [serve, submit, status, cancel, sessionGet, sessionDelete, pools, models, drain, reload, auditVerify, auditHead, ...TENANT_COMMANDS];

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.args}`.length));
  const commands = COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.padEnd(width)}  ${c.summary}`);
  const globals = Object.entries(GLOBAL_OPTIONS).map(([name, o]) => `  ${`${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` <${o.value}>` : ''}`.padEnd(22)}  ${o.description}`);
  return [
    'orchqueue: the OrchQueue gateway and its command-line client.',
    '',
    'Usage: orchqueue <command> [arguments] [options]',
    '       orchqueue <command> --help',
    '',
    'Commands:',
    ...commands,
    '',
    'Global options (every command):',
    ...globals,
    '',
    'Environment:',
    `  ORCHQUEUE_URL    gateway base URL (default ${DEFAULT_URL}); --url wins`,
    '  ORCHQUEUE_TOKEN  bearer token; --token wins',
    '',
    EXIT_CODE_HELP,
    '',
    'Examples:',
    '  orchqueue serve --config orchqueue.yaml',
    "  orchqueue submit --stream --prompt 'Write a haiku about queues.' --max-tokens 64 --seed 7",
    "  echo 'hello' | orchqueue submit --model demo --priority batch --retry --json",
    '  orchqueue status 0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01',
    '  orchqueue drain demo --deadline-ms 30000',
    '  orchqueue tenants create team-a --limits \'{"requests_per_min":600}\'',
    '  orchqueue keys create team-a --scopes tasks,models --expires-at 2027-01-01T00:00:00Z',
    '',
  ].join('\n');
}

/** The command named by the first one or two words of argv, and the rest of argv. */
/** The two-word commands whose first word is `word` (`session` → get, delete). */
function groupOf(word: string | undefined): Command[] {
  return COMMANDS.filter((c) => c.name.includes(' ') && c.name.split(' ')[0] === word);
}

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const [first, second] = argv;
  for (const command of COMMANDS) {
    const words = command.name.split(' ');
    if (words.length === 2 && words[0] === first && words[1] === second) return { command, rest: argv.slice(2) };
    if (words.length === 1 && words[0] === first) return { command, rest: argv.slice(1) };
  }
  return undefined;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

async function readAll(stdin: CliIo['stdin']): Promise<string | undefined> {
  if (stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

function reportError(out: Output, err: unknown): number {
  if (err instanceof UsageError) {
    out.note(`orchqueue: ${err.message}`);
    out.note(err.command ? `Run \`orchqueue ${err.command.name} --help\` for usage.` : 'Run `orchqueue --help` for usage.');
    return EXIT.USAGE;
  }
  if (err instanceof ApiError) {
    const where = err.error?.correlation_id ? ` (correlation id ${err.error.correlation_id})` : '';
    out.note(`orchqueue: ${err.status > 0 ? `${err.status} ` : ''}${err.message}${where}`);
    if (out.json) out.write(`${JSON.stringify({ status: err.status, ...(err.error ? { error: err.error } : { message: err.message }) })}\n`);
    return exitCodeForError(err.code, err.status);
  }
  out.note(`orchqueue: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.OTHER;
}

/** Runs the CLI on argv (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const out = processOutput(json, io.stdout, io.stderr);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.write(globalHelp());
    return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  try {
    const group = groupOf(argv[0]);
    if (group.length > 0 && (argv[1] === undefined || argv[1] === '--help' || argv[1] === '-h')) {
      // `orchqueue session --help`: the help of every command in the group.
      out.write(group.map(commandHelp).join('\n'));
      return argv[1] === undefined ? EXIT.USAGE : EXIT.OK;
    }
    const found = findCommand(argv);
    if (!found) throw new UsageError(`unknown command "${argv.slice(0, 2).join(' ')}"`);
    const { command, rest } = found;
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      out.write(commandHelp(command));
      return EXIT.OK;
    }
    // An empty environment variable counts as unset.
    const url = stringOption({ values }, 'url') ?? (io.env.ORCHQUEUE_URL || DEFAULT_URL);
    const token = stringOption({ values }, 'token') ?? (io.env.ORCHQUEUE_TOKEN || undefined);
    return await command.run({
      values,
      positionals,
      client: createClient({ url, ...(token ? { token } : {}) }),
      out,
      env: io.env,
      readStdin: () => readAll(io.stdin),
      onInterrupt: (handler) => {
        process.on('SIGINT', handler);
        return () => void process.off('SIGINT', handler);
      },
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
  } catch (err) {
    return reportError(out, err);
  }
}

/** bin/orchqueue.js: run on process.argv, flush stdout, exit with the code. */
export async function main(): Promise<never> {
  const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
