// `orchqueue serve`: runs the gateway exactly as `node src/main.ts` does (same config loading,
// same composition), as a child process on the same Node, forwarding signals so Ctrl-C,
// SIGTERM and SIGHUP (config reload) reach it, and exits with its exit code.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { intOption, stringOption, type Command } from './command.ts';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export const serve: Command = {
  name: 'serve',
  args: '',
  summary: 'Start the gateway in the foreground (the same as `node src/main.ts`).',
  details: `Without --config the embedded defaults apply (one pool "demo" on the built-in mock engine).
Environment: ORCHQUEUE_CONFIG, HOST, PORT, DATABASE_URL, REDIS_URL, LOG_LEVEL (see the README). Logs are
JSON lines on stdout. SIGHUP reloads the configuration file; Ctrl-C or SIGTERM shuts down.`,
  options: {
    config: { type: 'string', short: 'c', value: 'file', description: 'configuration file, YAML or JSON (env ORCHQUEUE_CONFIG)' },
    host: { type: 'string', value: 'host', description: 'bind address (env HOST; default 127.0.0.1)' },
    port: { type: 'string', value: 'port', description: 'bind port (env PORT; default 8080; 0 picks a free port)' },
    insecure: { type: 'boolean', description: 'allow an open control plane on a non-loopback address (server.allow_open; logged as a warning)' },
  },
  positionals: [],
  local: true,
  run: async (ctx) => {
    const env = { ...ctx.env };
    const host = stringOption(ctx, 'host');
    const port = intOption(ctx, 'port', serve);
    if (host !== undefined) env.HOST = host;
    if (port !== undefined) env.PORT = String(port);
    const config = stringOption(ctx, 'config');
    const args = [...(config ? ['--config', config] : []), ...(ctx.values.insecure ? ['--insecure'] : [])];
    const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
    const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
      });
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    }
  },
};
