// Engine simulator entry point for bench/: runs the llama.cpp fake in its own process and
// prints one JSON line {"url": ...} on stdout once it listens. Stops on SIGINT/SIGTERM.
//   node test/fakes/llamacpp/fake-main.ts --port 0 --tokens-per-s 50 --slots 4

import { parseArgs } from 'node:util';
import { startLlamacppFake } from './fake.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'tokens-per-s': { type: 'string', default: '0' },
    slots: { type: 'string', default: '1' },
    'n-ctx': { type: 'string', default: '4096' },
    'first-token-delay-ms': { type: 'string', default: '0' },
    'keep-alive-every': { type: 'string', default: '0' },
  },
});

function count(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`--${name} must be a number >= ${min}, got ${raw}\n`);
    process.exit(2);
  }
  return n;
}

const fake = await startLlamacppFake({
  port: count('port', values.port, 0),
  tokensPerS: count('tokens-per-s', values['tokens-per-s'], 0),
  slots: count('slots', values.slots, 1),
  nCtx: count('n-ctx', values['n-ctx'], 16),
  firstTokenDelayMs: count('first-token-delay-ms', values['first-token-delay-ms'], 0),
  keepAliveEvery: count('keep-alive-every', values['keep-alive-every'], 0),
});
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);

const stop = (): void => {
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
