// Test support for the CLI suites: runs the real `orchqueue` (bin/orchqueue.js) as a child
// process on this Node, with ORCHQUEUE_* cleared unless given, and collects its output.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/orchqueue.js', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function start(args: string[], env: Record<string, string> = {}, input?: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ORCHQUEUE_URL: '', ORCHQUEUE_TOKEN: '', ...env }, stdio: 'pipe' });
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();
  return child;
}

export function finished(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

export const cli = (args: string[], env: Record<string, string> = {}, input?: string) => finished(start(args, env, input));
