// The real gateway as a child process (`node src/main.ts --config FILE`), for tests that kill
// it: start waits for the "orchqueue listening" log line, which carries the address.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const ROOT = new URL('../../', import.meta.url);
const MAIN = new URL('src/main.ts', ROOT);

export interface GatewayProcess {
  process: ChildProcess;
  address: string;
}

/** `env` replaces the inherited environment's DATABASE_URL handling: it is dropped unless given. */
export function startGatewayProcess(configPath: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [MAIN.pathname, '--config', configPath], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`gateway exited (${code ?? signal}) before listening:\n${output}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output += `${line}\n`;
      if (!line.includes('orchqueue listening')) return;
      const entry = JSON.parse(line) as { address?: string };
      if (entry.address !== undefined) resolve({ process: child, address: entry.address });
    });
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}
