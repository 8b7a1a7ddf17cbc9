import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURE_PATH, renderChainFixture } from './audit-chain-fixture.ts';

describe('audit chain fixture', () => {
  // The facts went through the gateway's record builders and the hash chain of the day the file was
  // made (the hand-written canonical JSON); the RFC 8785 library must reproduce it byte for byte.
  it('is what the current record builders and hash chain produce from the same facts', () => {
    expect(renderChainFixture()).toBe(readFileSync(FIXTURE_PATH, 'utf8'));
  });
});
